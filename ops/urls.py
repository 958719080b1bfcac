"""API routes of the ops app, included under /api/."""

from django.urls import path

from . import api

urlpatterns = [
    path("ops/", api.OpsView.as_view(), name="ops"),
    path("templates/", api.TemplateListView.as_view(), name="templates"),
    path("templates/<slug:slug>/use/", api.UseTemplateView.as_view(), name="template-use"),
]
