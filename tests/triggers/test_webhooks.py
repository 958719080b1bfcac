"""`POST /hooks/<token>/`: signatures, idempotency, rotation, limits, input checks and `wait_s`.

Every refusal is checked to have changed nothing (no run, no firing, no trigger change).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import close_old_connections
from django.test import Client, override_settings
from django.utils import timezone

from executions.models import OutboxMessage, Run, RunEvent
from tests.support.processes import wait_until
from tests.triggers.helpers import deliver, echo_graph, ledger, published, share
from triggers import services
from triggers.models import Trigger, TriggerFire
from workflows import services as workflow_services
from workflows.models import WorkflowGrant

TICKET = {"ticket": "T-1"}


@pytest.fixture
def hook(users: dict[str, Any], api_client_for: Callable[[Any], Any]) -> dict[str, Any]:
    """A webhook on a published workflow, created through the API by the editor."""
    workflow = published(users["owner"])
    share(workflow)
    body = api_client_for(users["editor"]).post(
        f"/api/workflows/{workflow.pk}/triggers/", {"kind": "webhook"}, format="json"
    )
    assert body.status_code == 201
    created = body.json()
    path = created["url"].split("://", 1)[1].split("/", 1)[1]
    return {**created, "path": "/" + path, "workflow": workflow}


@pytest.fixture
def client() -> Client:
    return Client()


pytestmark = pytest.mark.django_db


def test_a_good_signature_starts_one_run_as_the_owner(
    hook: dict[str, Any], client: Client, users: dict[str, Any], api_client_for: Any
) -> None:
    response = deliver(client, hook["path"], TICKET, hook["secret"])
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"run_id", "status"} and body["status"] == "pending"
    run = Run.objects.get()
    assert str(run.pk) == body["run_id"]
    assert run.source == "webhook" and run.trigger_id == hook["id"] and run.created_by == users["editor"]
    assert run.inputs == {"ticket": "T-1", "priority": "normal"}  # defaults filled in
    assert run.version == hook["workflow"].active_version
    summary = api_client_for(users["owner"]).get(f"/api/runs/{run.pk}/").json()
    assert summary["trigger"] == hook["id"] and summary["source"] == "webhook"
    fire = TriggerFire.objects.get()
    assert fire.run == run and fire.outcome == "started" and fire.expires_at is not None
    assert Trigger.objects.get().last_fired_at is not None
    assert api_client_for(users["owner"]).get("/api/runs/?source=webhook").json()["count"] == 1


def _refused(response: Any, status: int, before: dict[str, Any], fragment: str = "") -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert fragment in response.json()["detail"]
    assert ledger() == before


@pytest.mark.parametrize(
    "headers, fragment",
    [
        ({}, "Missing X-Flowdeck-Signature"),
        ({"HTTP_X_FLOWDECK_SIGNATURE": ""}, "Missing"),
        ({"HTTP_X_FLOWDECK_SIGNATURE": "v1=abc"}, "exactly one t="),
        ({"HTTP_X_FLOWDECK_SIGNATURE": "t=1,t=2,v1=abc"}, "exactly one t="),
        ({"HTTP_X_FLOWDECK_SIGNATURE": "t=abc,v1=abc"}, "exactly one t="),
        ({"HTTP_X_FLOWDECK_SIGNATURE": f"t={int(time.time())}"}, "at least one v1="),
        ({"HTTP_X_FLOWDECK_SIGNATURE": f"t={int(time.time())},v1=" + "0" * 64}, "No signature matches"),
        ({"HTTP_X_FLOWDECK_SIGNATURE": "t=" + "9" * 40 + ",v1=00"}, "exactly one t="),
        ({"HTTP_X_FLOWDECK_SIGNATURE": "x" * 5000}, "too long"),
    ],
)
def test_missing_and_malformed_signatures_are_401(
    headers: dict[str, Any], fragment: str, hook: dict[str, Any], client: Client
) -> None:
    before = ledger()
    body = json.dumps(TICKET).encode()
    response = client.generic("POST", hook["path"], body, content_type="application/json", **headers)
    _refused(response, 401, before, fragment)


def test_a_signature_with_another_secret_is_401(hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    _refused(
        deliver(client, hook["path"], TICKET, "whsec_not-the-secret"), 401, before, "No signature matches"
    )


def test_a_signature_over_another_body_is_401(hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    moment = int(time.time())
    from triggers import signing

    header = signing.header_value(hook["secret"], moment, b'{"ticket": "T-1"}')
    response = client.generic(
        "POST",
        hook["path"],
        b'{"ticket": "T-2"}',
        content_type="application/json",
        HTTP_X_FLOWDECK_SIGNATURE=header,
    )
    _refused(response, 401, before, "No signature matches")


@pytest.mark.parametrize("offset_s", [-301, 301, -10_000])
def test_stale_and_future_timestamps_are_401(offset_s: int, hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    response = deliver(client, hook["path"], TICKET, hook["secret"], timestamp=int(time.time()) + offset_s)
    _refused(response, 401, before, "300 s")


def test_a_replayed_delivery_answers_the_first_run(hook: dict[str, Any], client: Client) -> None:
    moment = int(time.time())
    first = deliver(client, hook["path"], TICKET, hook["secret"], timestamp=moment)
    again = deliver(client, hook["path"], TICKET, hook["secret"], timestamp=moment)
    assert first.status_code == again.status_code == 202
    assert first.json()["run_id"] == again.json()["run_id"]
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert Run.objects.count() == 1 and TriggerFire.objects.count() == 1


def test_the_same_idempotency_key_twice_makes_one_run(hook: dict[str, Any], client: Client) -> None:
    now = int(time.time())
    first = deliver(
        client, hook["path"], TICKET, hook["secret"], timestamp=now, HTTP_IDEMPOTENCY_KEY="order-7"
    )
    # A retry signs again (new t) and may even carry a different body: the key decides.
    again = deliver(
        client,
        hook["path"],
        {"ticket": "T-2"},
        hook["secret"],
        timestamp=now + 5,
        HTTP_IDEMPOTENCY_KEY="order-7",
    )
    other = deliver(
        client, hook["path"], TICKET, hook["secret"], timestamp=now, HTTP_IDEMPOTENCY_KEY="order-8"
    )
    assert first.json()["run_id"] == again.json()["run_id"] != other.json()["run_id"]
    assert Run.objects.count() == 2
    assert Run.objects.get(pk=first.json()["run_id"]).inputs["ticket"] == "T-1"


def test_a_repeat_after_24_hours_is_a_new_delivery(hook: dict[str, Any], client: Client) -> None:
    first = deliver(client, hook["path"], TICKET, hook["secret"], HTTP_IDEMPOTENCY_KEY="k")
    TriggerFire.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    again = deliver(client, hook["path"], TICKET, hook["secret"], HTTP_IDEMPOTENCY_KEY="k")
    assert first.json()["run_id"] != again.json()["run_id"]
    assert Run.objects.count() == 2 and TriggerFire.objects.count() == 1


def test_rotation_keeps_the_old_secret_valid_for_the_grace_only(
    hook: dict[str, Any], client: Client, users: dict[str, Any], api_client_for: Any
) -> None:
    old = hook["secret"]
    rotated = api_client_for(users["editor"]).post(
        f"/api/workflows/{hook['workflow'].pk}/triggers/{hook['id']}/rotate-secret/",
        {"grace_s": 600},
        format="json",
    )
    new = rotated.json()["secret"]
    assert deliver(client, hook["path"], {"ticket": "old"}, old).status_code == 202
    assert deliver(client, hook["path"], {"ticket": "new"}, new).status_code == 202
    # During the rotation a sender may sign with both: several v1= values.
    assert deliver(client, hook["path"], {"ticket": "both"}, [old, new]).status_code == 202
    assert deliver(client, hook["path"], {"ticket": "both again"}, ["whsec_wrong", new]).status_code == 202
    assert Run.objects.count() == 4
    Trigger.objects.update(previous_secret_expires_at=timezone.now() - timedelta(seconds=1))
    before = ledger()
    _refused(deliver(client, hook["path"], {"ticket": "late"}, old), 401, before, "No signature matches")
    assert deliver(client, hook["path"], {"ticket": "late"}, new).status_code == 202


def test_a_second_rotation_ends_the_first_grace(hook: dict[str, Any], client: Client) -> None:
    trigger = Trigger.objects.get()
    first = services.rotate_secret(trigger, 600).secret
    second = services.rotate_secret(trigger, 600).secret
    assert first is not None and second is not None
    before = ledger()
    _refused(deliver(client, hook["path"], TICKET, hook["secret"]), 401, before)
    assert deliver(client, hook["path"], TICKET, first).status_code == 202
    assert deliver(client, hook["path"], {"ticket": "x"}, second).status_code == 202


@override_settings(TRIGGER_WEBHOOK_MAX_BODY_BYTES=64)
def test_an_oversized_body_is_413(hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    big = {"ticket": "x" * 100}
    _refused(deliver(client, hook["path"], big, hook["secret"]), 413, before, "64 bytes")
    assert deliver(client, hook["path"], {"ticket": "small"}, hook["secret"]).status_code == 202


@override_settings(TRIGGER_WEBHOOK_MAX_BODY_BYTES=64)
def test_a_declared_length_over_the_cap_is_413_before_the_body_is_read(
    hook: dict[str, Any], client: Client
) -> None:
    before = ledger()
    response = deliver(client, hook["path"], b"{}", hook["secret"], CONTENT_LENGTH="100000")
    _refused(response, 413, before)


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_a_body_that_is_not_json_is_415(content_type: str, hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    response = deliver(client, hook["path"], TICKET, hook["secret"], content_type=content_type)
    _refused(response, 415, before, "JSON")


def test_json_media_types_with_parameters_are_accepted(hook: dict[str, Any], client: Client) -> None:
    ok = deliver(client, hook["path"], TICKET, hook["secret"], content_type="application/json; charset=utf-8")
    vendor = deliver(
        client, hook["path"], {"ticket": "v"}, hook["secret"], content_type="application/vnd.x+json"
    )
    assert ok.status_code == vendor.status_code == 202


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ({}, "input_schema"),
        ({"ticket": 7}, "input_schema"),
        ({"ticket": "T", "extra": 1}, "input_schema"),
    ],
)
def test_inputs_that_do_not_fit_the_input_schema_are_400_with_the_errors(
    payload: Any, fragment: str, hook: dict[str, Any], client: Client
) -> None:
    before = ledger()
    response = deliver(client, hook["path"], payload, hook["secret"])
    _refused(response, 400, before, fragment)
    assert response.json()["errors"] and all({"path", "message"} <= set(e) for e in response.json()["errors"])


@pytest.mark.parametrize(
    "raw, fragment",
    [
        (b"[1, 2]", "JSON object"),
        (b'"ticket"', "JSON object"),
        (b"{nope", "JSON parse error"),
        (b'{"ticket": NaN}', "JSON parse error"),
        (b'{"ticket": "\\u0000"}', "NUL"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 100 + b"]" * 100, "nested deeper"),
    ],
)
def test_bodies_that_are_not_a_json_object_are_400(
    raw: bytes, fragment: str, hook: dict[str, Any], client: Client
) -> None:
    before = ledger()
    _refused(deliver(client, hook["path"], raw, hook["secret"]), 400, before, fragment)


def test_an_empty_body_means_no_inputs(hook: dict[str, Any], client: Client, users: dict[str, Any]) -> None:
    workflow = hook["workflow"]
    workflow_services.save_draft(
        workflow, changes={"graph": echo_graph({"type": "object"})}, revision=workflow.revision
    )
    workflow_services.publish_workflow(workflow, author=users["owner"])
    assert (
        deliver(client, hook["path"], b"", hook["secret"], CONTENT_TYPE="application/json").status_code == 202
    )
    assert Run.objects.get().inputs == {}


@pytest.mark.parametrize("query", ["?wait_s=0", "?wait_s=61", "?wait_s=soon", "?wait_s=nan", "?wait_s=inf"])
def test_a_bad_wait_s_is_400(query: str, hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    _refused(deliver(client, hook["path"], TICKET, hook["secret"], query=query), 400, before, "wait_s")


def test_unknown_disabled_and_orphaned_hooks_are_404(
    hook: dict[str, Any], client: Client, users: dict[str, Any]
) -> None:
    before = ledger()
    _refused(deliver(client, "/hooks/not-a-token/", TICKET, hook["secret"]), 404, before)
    _refused(deliver(client, "/hooks/" + "x" * 300 + "/", TICKET, hook["secret"]), 404, before)
    Trigger.objects.update(enabled=False)
    before = ledger()
    _refused(deliver(client, hook["path"], TICKET, hook["secret"]), 404, before, "No such webhook")
    Trigger.objects.update(enabled=True)
    WorkflowGrant.objects.filter(role="editor").delete()  # the trigger's owner loses the workflow
    before = ledger()
    _refused(deliver(client, hook["path"], TICKET, hook["secret"]), 404, before, "No such webhook")


def test_a_hook_of_an_archived_workflow_is_404(hook: dict[str, Any], client: Client) -> None:
    hook["workflow"].archive()
    before = ledger()
    _refused(deliver(client, hook["path"], TICKET, hook["secret"]), 404, before)


def test_only_post_is_accepted(hook: dict[str, Any], client: Client) -> None:
    before = ledger()
    response = client.get(hook["path"])
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert ledger() == before


def test_a_workflow_without_a_published_version_is_409(
    users: dict[str, Any], client: Client, api_client_for: Any
) -> None:
    workflow = workflow_services.create_workflow(owner=users["owner"], name="draft only", graph=echo_graph())
    created = api_client_for(users["owner"]).post(
        f"/api/workflows/{workflow.pk}/triggers/", {"kind": "webhook"}, format="json"
    )
    token = Trigger.objects.get(pk=created.json()["id"]).token
    assert token is not None
    before = ledger()
    _refused(deliver(client, token, TICKET, created.json()["secret"]), 409, before, "no active version")


@pytest.mark.parametrize(
    "raw",
    [b"", b"{}", b"null", b"0", b"\x00", b'{"ticket": "' + "\U0001f600".encode() * 10 + b'"}', b"{" * 5000],
)
@pytest.mark.parametrize("signature", [None, "t=0,v1=0", "t=,v1=", ",,,", "=", "t=1=2,v1=3"])
def test_garbage_never_gets_a_500(
    raw: bytes, signature: str | None, hook: dict[str, Any], client: Client
) -> None:
    headers: dict[str, Any] = {"HTTP_X_FLOWDECK_SIGNATURE": signature} if signature is not None else {}
    response = client.generic("POST", hook["path"], raw, content_type="application/json", **headers)
    # An empty body has no content type at all (415); everything else fails the signature.
    assert response.status_code == (415 if raw == b"" else 401)


@pytest.mark.django_db(transaction=True)
def test_two_racing_repeats_make_one_run(worker: Any, hook: dict[str, Any]) -> None:
    moment = int(time.time())
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        try:
            barrier.wait(5)
            answers.append(
                deliver(
                    Client(),
                    hook["path"],
                    TICKET,
                    hook["secret"],
                    timestamp=moment,
                    HTTP_IDEMPOTENCY_KEY="race",
                )
            )
        finally:
            close_old_connections()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [202, 202]
    assert answers[0].json()["run_id"] == answers[1].json()["run_id"]
    assert Run.objects.count() == 1 and TriggerFire.objects.count() == 1
    # Let the worker finish the run, so the teardown does not truncate tables under it.
    wait_until(lambda: Run.objects.filter(status="succeeded").exists(), 30, "the run to finish")


@pytest.mark.django_db(transaction=True)
def test_wait_s_answers_200_with_the_outputs_when_the_run_finishes_in_time(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    workflow = published(users["owner"])
    created = (
        api_client_for(users["owner"])
        .post(f"/api/workflows/{workflow.pk}/triggers/", {"kind": "webhook"}, format="json")
        .json()
    )
    token = Trigger.objects.get(pk=created["id"]).token
    assert token is not None
    response = deliver(Client(), token, TICKET, created["secret"], query="?wait_s=30")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["outputs"] == {"echo": {"ticket": "T-1", "priority": "normal"}}
    assert set(body) == {"run_id", "status", "outputs"}


@pytest.mark.django_db(transaction=True)
def test_wait_s_answers_202_when_the_run_is_still_going(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    workflow = published(users["owner"], echo_graph(delay_s=30))
    created = (
        api_client_for(users["owner"])
        .post(f"/api/workflows/{workflow.pk}/triggers/", {"kind": "webhook"}, format="json")
        .json()
    )
    token = Trigger.objects.get(pk=created["id"]).token
    assert token is not None
    started = time.monotonic()
    response = deliver(Client(), token, TICKET, created["secret"], query="?wait_s=0.5")
    assert time.monotonic() - started >= 0.5
    assert response.status_code == 202, response.content
    body = response.json()
    assert set(body) == {"run_id", "status"} and body["status"] in {"pending", "running", "waiting"}
    api_client_for(users["owner"]).post(f"/api/runs/{body['run_id']}/cancel/")


@pytest.mark.django_db(transaction=True)
def test_the_secret_never_reaches_runs_events_or_logs(
    worker: Any, users: dict[str, Any], api_client_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    workflow = published(users["owner"])
    client = api_client_for(users["owner"])
    created = client.post(
        f"/api/workflows/{workflow.pk}/triggers/", {"kind": "webhook"}, format="json"
    ).json()
    rotated = client.post(
        f"/api/workflows/{workflow.pk}/triggers/{created['id']}/rotate-secret/", {}, format="json"
    ).json()
    token = Trigger.objects.get(pk=created["id"]).token
    assert token is not None
    answer = deliver(Client(), token, TICKET, [created["secret"], rotated["secret"]], query="?wait_s=30")
    assert answer.status_code == 200
    deliver(Client(), token, TICKET, "whsec_wrong")
    stored = json.dumps(
        [
            list(Run.objects.values()),
            list(RunEvent.objects.values("type", "data")),
            list(OutboxMessage.objects.values("payload")),
            list(TriggerFire.objects.values()),
            client.get(f"/api/runs/{answer.json()['run_id']}/").json(),
            client.get(f"/api/workflows/{workflow.pk}/export/").json(),
        ],
        default=str,
    )
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in stored and secret not in caplog.text
