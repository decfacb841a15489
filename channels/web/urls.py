from django.urls import path

from channels.web import contact_views, views

app_name = "web"
urlpatterns = [
    path("health/", views.health, name="health"),
    path("", views.home, name="home"),
    path("signout/", views.sign_out, name="signout"),
    path("p/<str:token>/", views.person, name="person"),
    path("p/<str:token>/forget/", views.forget, name="forget"),
    path("p/<str:token>/book/", views.book, name="book"),
    path("p/<str:token>/contact/", contact_views.contact, name="contact"),
    path("p/<str:token>/contact/code/", contact_views.contact_code, name="contact_code"),
    path("p/<str:token>/r/<str:code>/", views.reservation_detail, name="reservation"),
    path("p/<str:token>/r/<str:code>/confirm/", views.confirm, name="confirm"),
    path("p/<str:token>/r/<str:code>/change/", views.change, name="change"),
    path("p/<str:token>/r/<str:code>/cancel/", views.cancel, name="cancel"),
    path("p/<str:token>/r/<str:code>/calendar.ics", views.calendar_file, name="calendar"),
]
