"""Venue reception (staff with the add_vaccination permission; corrections need
correct_vaccination)."""

from django.urls import path

from channels.venue import views

app_name = "venue"
urlpatterns = [
    path("", views.home, name="home"),
    path("day/<int:day_id>/", views.day, name="day"),
    path("day/<int:day_id>/lots/", views.add_lot, name="add_lot"),
    path("day/<int:day_id>/close/", views.close_day, name="close_day"),
    path("day/<int:day_id>/list/", views.day_list, name="day_list"),
    path("day/<int:day_id>/list.csv", views.day_list_csv, name="day_list_csv"),
    path("day/<int:day_id>/walk-in/<str:reference>/", views.walk_in, name="walk_in"),
    path("day/<int:day_id>/r/<str:code>/", views.reservation, name="reservation"),
    path("day/<int:day_id>/r/<str:code>/check-in/", views.check_in, name="check_in"),
    path("day/<int:day_id>/r/<str:code>/no-show/", views.mark_no_show, name="mark_no_show"),
    path("day/<int:day_id>/r/<str:code>/no-show/undo/", views.undo_no_show, name="undo_no_show"),
    path("day/<int:day_id>/dose/<uuid:record_id>/", views.correct, name="correct"),
    path(
        "day/<int:day_id>/dose/<uuid:record_id>/cancel/",
        views.cancel_record,
        name="cancel_record",
    ),
]
