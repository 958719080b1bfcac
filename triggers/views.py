"""`POST /hooks/<token>/`: the one route that starts runs without a login.

Checks run cheapest first and every refusal changes nothing: unknown or disabled token (404),
method (405), body size (413), content type (415), `wait_s` (400), signature (401), JSON (400),
then a repeat of an idempotency key answers the first run, and only then are the inputs checked
against the start node's `input_schema` (400) and the run started, as the trigger's owner.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import ParseError

from config.api.parsers import parse_json_bytes
from executions.api.views import wait_for_settled_run
from executions.engine.states import TERMINAL_RUN, RunStatus
from executions.models import Run
from executions.starting import StartRefused

from . import services, signing

logger = logging.getLogger(__name__)

MAX_WAIT_S = 60.0
JSON_TYPES = ("application/json",)


def _answer(status: int, body: dict[str, Any], **headers: str) -> JsonResponse:
    response = JsonResponse(body, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _refused(status: int, detail: str, **extra: Any) -> JsonResponse:
    return _answer(status, {"detail": detail, **extra})


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _wait_seconds(raw: str | None) -> float | None:
    """`?wait_s=` in (0, 60]; None when absent. Raises ValueError with the message to answer."""
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("wait_s must be a number of seconds.") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_WAIT_S:
        raise ValueError(f"wait_s must be more than 0 and at most {MAX_WAIT_S:g}.")
    return value


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than ``limit`` (checked before and while reading)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _run_answer(run: Run | None, waited: bool, repeat: bool) -> JsonResponse:
    headers = {"Idempotent-Replayed": "true"} if repeat else {}
    if run is None:
        return _refused(409, "This delivery was received before, but its run no longer exists.")
    run.refresh_from_db(fields=["status", "outputs"])
    if waited and RunStatus(run.status) in TERMINAL_RUN:
        body = {"run_id": str(run.pk), "status": run.status, "outputs": run.outputs}
        return _answer(200, body, **headers)
    return _answer(202, {"run_id": str(run.pk), "status": run.status}, **headers)


@csrf_exempt
def receive(request: HttpRequest, token: str) -> JsonResponse:
    trigger = services.find_webhook(token)
    if trigger is None:
        return _refused(404, "No such webhook.")
    if request.method != "POST":
        return _answer(405, {"detail": "Webhooks accept POST only."}, Allow="POST")
    body = _read_body(request, settings.TRIGGER_WEBHOOK_MAX_BODY_BYTES)
    if body is None:
        return _refused(413, f"The body is larger than {settings.TRIGGER_WEBHOOK_MAX_BODY_BYTES} bytes.")
    if not _is_json(request.META.get("CONTENT_TYPE", "")):
        return _refused(415, "The body must be JSON (Content-Type: application/json).")
    try:
        wait_s = _wait_seconds(request.GET.get("wait_s"))
    except ValueError as error:
        return _refused(400, str(error))
    try:
        timestamp = signing.verify(
            request.headers.get(signing.HEADER), body, trigger.valid_secrets(timezone.now()), time.time()
        )
    except signing.SignatureRefused as error:
        return _refused(401, str(error))
    try:
        inputs = parse_json_bytes(body) if body.strip() else {}
    except ParseError as error:
        return _refused(400, str(error.detail))
    if not isinstance(inputs, dict):
        return _refused(400, "The body must be a JSON object: the run's inputs.")
    key = services.idempotency_key(request.headers.get("Idempotency-Key"), timestamp, body)
    try:
        run, repeat = services.receive_webhook(trigger, key, inputs)
    except StartRefused as refusal:
        return _answer(refusal.status, refusal.body())
    if wait_s is not None and run is not None:
        wait_for_settled_run(run.pk, wait_s)
    return _run_answer(run, waited=wait_s is not None, repeat=repeat)
