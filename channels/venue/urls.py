"""Venue reception (staff with the add_vaccination permission)."""

from django.urls import path

from channels.venue import views

app_name = "venue"
urlpatterns = [
    path("", views.home, name="home"),
    path("day/<int:day_id>/", views.day, name="day"),
    path("day/<int:day_id>/lots/", views.add_lot, name="add_lot"),
    path("day/<int:day_id>/close/", views.close_day, name="close_day"),
    path("day/<int:day_id>/walk-in/<int:ticket_id>/", views.walk_in, name="walk_in"),
    path("day/<int:day_id>/r/<str:code>/", views.reservation, name="reservation"),
    path("day/<int:day_id>/r/<str:code>/check-in/", views.check_in, name="check_in"),
]
