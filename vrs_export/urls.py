"""Staff exports: the VRS download page (export permission)."""

from django.urls import path

from vrs_export import views

app_name = "exports"
urlpatterns = [path("", views.exports, name="home")]
