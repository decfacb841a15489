"""Health-centre staff screens of health follow-up, under /followup/."""

from __future__ import annotations

from django.urls import path

from channels.followup import staff_views as views

app_name = "followup_staff"

urlpatterns = [
    path("", views.cohort, name="cohort"),
    path("export.csv", views.export_csv, name="export"),
    path("alerts/", views.alerts, name="alerts"),
    path("alerts/<int:answer_id>/ack/", views.alert_ack, name="alert_ack"),
    path("alerts/<int:answer_id>/resolve/", views.alert_resolve_view, name="alert_resolve"),
    path("start/", views.followup_start_view, name="start"),
    path("calls/", views.calls, name="calls"),
    path("calls/<int:call_id>/done/", views.call_done_view, name="call_done"),
    path("photos/", views.photos, name="photos"),
    path("photos/<int:photo_id>/image/", views.photo_image, name="photo_image"),
    path("photos/<int:photo_id>/review/", views.photo_review_view, name="photo_review"),
    path("<int:followup_id>/", views.followup_detail, name="followup"),
    path("<int:followup_id>/end/", views.followup_end_view, name="followup_end"),
]
