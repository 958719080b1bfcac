from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from executions.views import confirm as approval_confirm
from frontend.views import app_shell
from triggers import views as webhooks

from . import ops

admin.site.site_header = "Flowdeck administration"
admin.site.site_title = "Flowdeck admin"
admin.site.index_title = "Console"

urlpatterns = [
    path("health", ops.health, name="health"),
    path("ready", ops.ready, name="ready"),
    path("metrics", ops.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("approvals/confirm/<str:token>/", approval_confirm, name="approval-confirm"),
    path("hooks/<str:token>/", webhooks.receive, name="webhook"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("config.api.urls")),
    # The single-page app owns these paths, so deep links work on reload.
    path("", app_shell, name="app"),
    re_path(r"^(?:workflows|runs|inbox|agents|ops|templates)(?:/.*)?$", app_shell),
]
