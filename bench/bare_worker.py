"""A Celery app with no Django and no Flowdeck: the baseline for "process start → first work done".

`celery -A bench.bare_worker worker` on the benchmark's broker, on a queue of its own, answering
one task that LPUSHes to a Redis key the benchmark BLPOPs.
"""

from __future__ import annotations

import os

import redis
from celery import Celery

QUEUE = "bench.bare"

app = Celery("bench-bare", broker=os.environ["REDIS_URL"])
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
)


@app.task(name="bench.bare.ping")
def ping(done_key: str) -> None:
    client = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=10)
    client.lpush(done_key, b"1")
    client.expire(done_key, 300)
