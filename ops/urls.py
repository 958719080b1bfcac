"""API routes of the ops app, included under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("ops/", api.OpsView.as_view(), name="ops"),
]
