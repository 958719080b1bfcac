from django.urls import path, re_path

from .consumers import InboxConsumer, RunConsumer, RunsConsumer

websocket_urlpatterns = [
    re_path(r"^ws/runs/(?P<run_id>[0-9a-fA-F-]{32,36})/$", RunConsumer.as_asgi()),
    path("ws/runs/", RunsConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
