from django.urls import path

from channels.api import views

app_name = "api"
urlpatterns = [path("", views.root, name="root")]
