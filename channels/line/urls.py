from django.urls import path, re_path

from channels.line import simulator, views

app_name = "line"
urlpatterns = [
    path("webhook/", views.webhook, name="webhook"),
    # A municipality's own official account: the 6-digit 全国地方公共団体コード.
    re_path(
        r"^m/(?P<code>[0-9]{6})/webhook/$",
        views.municipality_webhook,
        name="municipality_webhook",
    ),
    path("simulator/", simulator.simulator, name="simulator"),
    path(
        "simulator/api/v2/bot/message/<str:kind>",
        simulator.standin_api,
        name="simulator_api",
    ),
]
