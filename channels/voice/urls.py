from django.urls import path

from channels.voice import simulator, views

app_name = "voice"
urlpatterns = [
    path("calls/<int:call_id>/answer/", views.answer, name="answer"),
    path("calls/<int:call_id>/keys/<slug:step>/", views.keys, name="keys"),
    path("calls/<int:call_id>/status/", views.status, name="status"),
    path("simulator/", simulator.calls, name="simulator"),
    path("simulator/<int:call_id>/", simulator.play, name="simulator_call"),
]
