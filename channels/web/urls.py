from django.urls import path

from channels.web import views

app_name = "web"
urlpatterns = [
    path("health/", views.health, name="health"),
    path("", views.home, name="home"),
]
