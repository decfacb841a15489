"""Staff exports: the VRS download page (export permission) and the reconciliation page
(reconcile permission)."""

from django.urls import path

from vrs_export import reconcile_views, views

app_name = "exports"
urlpatterns = [
    path("", views.exports, name="home"),
    path("reconcile/", reconcile_views.reconcile, name="reconcile"),
]
