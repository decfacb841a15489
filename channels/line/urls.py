from django.urls import path

from channels.line import simulator, views

app_name = "line"
urlpatterns = [
    path("webhook/", views.webhook, name="webhook"),
    path("simulator/", simulator.simulator, name="simulator"),
    path(
        "simulator/api/v2/bot/message/<str:kind>",
        simulator.standin_api,
        name="simulator_api",
    ),
]
