"""The call centre at /phone/: operator console, supervisors' and manager's pages."""

from django.urls import path

from channels.phone import planning_views, second_factor_views, views

app_name = "phone"
urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("login/code/", second_factor_views.code, name="second_factor"),
    path("login/enrol/", second_factor_views.enrol, name="second_factor_enrol"),
    path("r/<int:pk>/", views.resident, name="resident"),
    path("r/<int:pk>/book/", views.book, name="book"),
    path("r/<int:pk>/change/<int:reservation_id>/", views.change, name="change"),
    path("r/<int:pk>/cancel/<int:reservation_id>/", views.cancel, name="cancel"),
    path("r/<int:pk>/contact/", views.contact, name="contact"),
    path("r/<int:pk>/unlock/<int:ticket_id>/", views.unlock, name="unlock"),
    path("call/caller/", views.call_caller, name="call_caller"),
    path("call/close/", views.call_close, name="call_close"),
    path("audit/", views.audit, name="audit"),
    path("metrics/", views.metrics, name="metrics"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("forecast/", views.forecast_view, name="forecast"),
    path("forecast.csv", views.forecast_csv, name="forecast_csv"),
    path("rota.csv", planning_views.rota_csv_view, name="rota_csv"),
    path("rehearsal/", planning_views.rehearsal_view, name="rehearsal"),
]
