from django.urls import path

from channels.sms import views

app_name = "sms"
urlpatterns = [
    path("receipts/<slug:provider>/", views.receipt, name="receipt"),
    path("inbound/<slug:provider>/", views.inbound, name="inbound"),
]
