"""The console's URL map (mounted at the site root, beside ``/api/v1/`` and the public
tracking pages)."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from envoi.web.views import (
    accounts,
    admin,
    audiences,
    dashboard,
    deliveries,
    outbox,
    profiles,
    quarantine,
    schedule,
)

app_name = "web"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="web:deliveries"), name="home"),
    path("login/", accounts.SignIn.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("deliveries/", deliveries.delivery_list, name="deliveries"),
    path("deliveries/new/", deliveries.delivery_create, name="delivery_create"),
    path("deliveries/<int:pk>/", dashboard.dashboard, name="delivery"),
    path("deliveries/<int:pk>/edit/", deliveries.delivery_edit, name="delivery_edit"),
    path("deliveries/<int:pk>/delete/", deliveries.delivery_delete, name="delivery_delete"),
    path("deliveries/<int:pk>/live/", dashboard.live, name="delivery_live"),
    path("deliveries/<int:pk>/charts/", dashboard.delivery_charts, name="delivery_charts"),
    path("deliveries/<int:pk>/compute-stats/", dashboard.compute_stats,
         name="delivery_compute_stats"),
    path("deliveries/<int:pk>/logs/<slug:tab>/", dashboard.log_tab, name="delivery_log"),
    path("deliveries/<int:pk>/do/<slug:name>/", dashboard.action, name="delivery_action"),
    path("deliveries/<int:pk>/executions/", schedule.executions, name="delivery_executions"),
    path("deliveries/<int:pk>/schedule/request-confirmation/", schedule.request_confirmation,
         name="delivery_request_confirmation"),
    path("profiles/", profiles.profile_list, name="profiles"),
    path("profiles/<int:pk>/", profiles.profile_detail, name="profile"),
    path("audiences/", audiences.audience_list, name="audiences"),
    path("audiences/new/", audiences.audience_edit, name="audience_create"),
    path("audiences/check/", audiences.audience_check, name="audience_check"),
    path("audiences/<int:pk>/", audiences.audience_edit, name="audience"),
    path("audiences/<int:pk>/count/", audiences.audience_count, name="audience_count"),
    path("audiences/<int:pk>/delete/", audiences.audience_delete, name="audience_delete"),
    path("admin/users/", admin.user_list, name="users"),
    path("admin/users/<int:pk>/", admin.user_roles, name="user_roles"),
    path("admin/audit/", admin.audit_log, name="audit"),
    path("admin/users/<int:pk>/account/", accounts.user_account, name="user_account"),
    path("admin/users/<int:pk>/deactivate/", accounts.user_activation,
         {"change": "deactivate"}, name="user_deactivate"),
    path("admin/users/<int:pk>/reactivate/", accounts.user_activation,
         {"change": "reactivate"}, name="user_reactivate"),
    path("admin/users/<int:pk>/reset-link/", accounts.user_reset_link,
         name="user_reset_link"),
    path("reset/<uidb64>/<token>/", accounts.PasswordReset.as_view(), name="password_reset"),
    path("tokens/", accounts.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", accounts.token_revoke, name="token_revoke"),
    path("quarantine/", quarantine.quarantine_list, name="quarantine"),
    path("quarantine/<int:pk>/", quarantine.quarantine_address, name="quarantine_address"),
    path("quarantine/<int:pk>/release/", quarantine.quarantine_release,
         name="quarantine_release"),
    path("outbox/", outbox.outbox_list, name="outbox"),
    path("outbox/<int:pk>/", outbox.outbox_message, name="outbox_message"),
    path("outbox/<int:pk>/body/", outbox.outbox_body, name="outbox_body"),
]
