"""Mounted at `/api/workflows/<workflow_pk>/triggers/`."""

from django.urls import path

from .views import TriggerViewSet

urlpatterns = [
    path("", TriggerViewSet.as_view({"get": "list", "post": "create"}), name="workflow-triggers"),
    path(
        "<int:pk>/",
        TriggerViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="workflow-trigger",
    ),
    path(
        "<int:pk>/rotate-secret/",
        TriggerViewSet.as_view({"post": "rotate_secret"}),
        name="workflow-trigger-rotate-secret",
    ),
]
