"""The `http` node end to end: real runs on a real worker (threads in the embedded mode, celery
processes in the services mode) against a local server that the egress allowlist opens."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from executions.models import NodeAttempt, NodeRun, Run, RunEvent
from integrations.models import Credential, CredentialGrant, EgressAllow
from tests.executions.graphs import edge, graph, node
from tests.integrations.support import LocalServer, Received, Reply, canary, local_server
from workflows import services as workflow_services

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "tok-Sup3rSecret-9f8e7d6c"
FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_server() as found:
        yield found


@pytest.fixture
def allow_local(transactional_db: Any) -> None:
    EgressAllow.objects.create(host="127.0.0.1", note="the tests' local server")


def http_workflow(owner: Any, config: dict[str, Any], **fields: Any) -> Any:
    graph_json = graph(
        [
            node("start", "start"),
            node("call", "http", config, **fields),
            node("end", "end", {"outputs": {"result": "{{ nodes.call.output }}"}}),
        ],
        [edge("start", "call"), edge("call", "end")],
    )
    workflow = workflow_services.create_workflow(owner=owner, name="http flow", graph=graph_json)
    workflow_services.publish_workflow(workflow, author=owner)
    return workflow


def start(client: Any, workflow: Any, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(
        f"/api/workflows/{workflow.pk}/runs/", {"inputs": inputs or {}, "wait_s": 30}, format="json"
    )
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    if body["status"] not in FINISHED:  # a loaded machine can outlast wait_s: keep waiting
        deadline = time.monotonic() + 120
        while not Run.objects.get(pk=body["id"]).is_finished and time.monotonic() < deadline:
            time.sleep(0.1)
        body = client.get(f"/api/runs/{body['id']}/").json()
    return body


def attempts(run_id: Any) -> list[tuple[int, str, str | None]]:
    return [
        (number, status, (error or {}).get("code"))
        for number, status, error in NodeAttempt.objects.filter(run_id=run_id, node_run__node_id="call")
        .order_by("number")
        .values_list("number", "status", "error")
    ]


RETRY = {"max_attempts": 3, "backoff_s": 0.05, "multiplier": 1, "max_backoff_s": 5}


def test_a_json_api_is_called_with_rendered_method_query_headers_and_body(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    server.routes["/items"] = lambda request: Reply(
        201, {"Content-Type": "application/json", "X-Trace": "t-1"}, b'{"id": 7, "ok": true}'
    )
    workflow = http_workflow(
        users["owner"],
        {
            "method": "POST",
            "url": "{{ inputs.base }}/items",
            "query": {"tag": "{{ inputs.tag }}"},
            "headers": {"X-Asked-By": "flow {{ inputs.tag }}"},
            "body": {"name": "{{ inputs.tag }}", "count": "{{ inputs.count }}"},
        },
    )

    run = start(
        api_client_for(users["owner"]),
        workflow,
        {"base": server.url("").rstrip("/"), "tag": "a b", "count": 3},
    )

    assert run["status"] == "succeeded", run
    result = run["outputs"]["result"]
    assert (result["status"], result["body"]) == (201, {"id": 7, "ok": True})
    assert result["headers"]["x-trace"] == "t-1"
    [received] = server.received
    assert (received.method, received.path) == ("POST", "/items?tag=a+b")
    assert json.loads(received.body) == {"name": "a b", "count": 3}
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-asked-by"] == "flow a b"
    assert received.headers["host"] == f"127.0.0.1:{server.port}"


def test_a_text_response_is_kept_as_text(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    server.routes["/hello"] = lambda request: Reply(200, {"Content-Type": "text/plain"}, b"hello, world")
    workflow = http_workflow(users["owner"], {"url": server.url("/hello"), "response": "text"})

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "succeeded", run
    assert run["outputs"]["result"]["body"] == "hello, world"
    assert [request.method for request in server.received] == ["GET"]


def test_429_waits_for_retry_after_then_succeeds(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    answers = iter([Reply(429, {"Retry-After": "1"}, b"slow down"), Reply(200, {}, b'{"done": 1}')])
    server.routes["/limited"] = lambda request: next(answers)
    workflow = http_workflow(users["owner"], {"url": server.url("/limited")}, retry=RETRY)

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "succeeded", run
    assert run["outputs"]["result"]["body"] == {"done": 1}
    assert attempts(run["id"]) == [(1, "failed", "rate_limited"), (2, "succeeded", None)]
    retrying = RunEvent.objects.get(run_id=run["id"], type="node.retrying")
    assert retrying.data["error"]["retryable"] is True
    waited = datetime.fromisoformat(retrying.data["retry_at"]) - retrying.ts
    assert 1.0 <= waited.total_seconds() < 1.5
    assert len(server.received) == 2


def test_500_is_retried(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    answers = iter([Reply(500, {}, b"oops"), Reply(503, {}, b"busy"), Reply(200, {}, b"[1, 2]")])
    server.routes["/flaky"] = lambda request: next(answers)
    workflow = http_workflow(users["owner"], {"url": server.url("/flaky")}, retry=RETRY)

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "succeeded", run
    assert run["outputs"]["result"]["body"] == [1, 2]
    assert attempts(run["id"]) == [
        (1, "failed", "server_error"),
        (2, "failed", "server_error"),
        (3, "succeeded", None),
    ]


def test_404_is_not_retried(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    workflow = http_workflow(users["owner"], {"url": server.url("/missing")}, retry=RETRY)

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "client_error" and run["error"]["retryable"] is False
    assert run["error"]["message"] == "127.0.0.1 answered HTTP 404: no such route"
    assert attempts(run["id"]) == [(1, "failed", "client_error")]
    assert server.paths() == ["/missing"]


def test_a_response_over_the_size_cap_fails_without_retrying(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    server.routes["/big"] = lambda request: Reply(200, {}, b"x" * 5000)
    workflow = http_workflow(
        users["owner"],
        {"url": server.url("/big"), "max_response_bytes": 1000, "response": "text"},
        retry=RETRY,
    )

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "failed", run
    assert run["error"]["code"] == "response_too_large"
    assert attempts(run["id"]) == [(1, "failed", "response_too_large")]
    assert server.paths() == ["/big"]


def test_redirects_are_followed_up_to_the_cap(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    for index in range(4):
        server.routes[f"/r{index}"] = (lambda target: lambda request: Reply(302, {"Location": target}))(
            f"/r{index + 1}"
        )
    server.routes["/r4"] = lambda request: Reply(200, {}, b'"landed"')
    followed = http_workflow(users["owner"], {"url": server.url("/r2"), "max_redirects": 2})
    capped = http_workflow(users["owner"], {"url": server.url("/r0"), "max_redirects": 2}, retry=RETRY)
    client = api_client_for(users["owner"])

    ok = start(client, followed)
    server.received.clear()
    refused = start(client, capped)

    assert ok["status"] == "succeeded" and ok["outputs"]["result"]["body"] == "landed"
    assert refused["status"] == "failed" and refused["error"]["code"] == "too_many_redirects"
    assert server.paths() == ["/r0", "/r1", "/r2"]
    assert attempts(refused["id"]) == [(1, "failed", "too_many_redirects")]


def test_a_private_destination_is_refused_and_never_contacted(
    worker: Any, users: dict[str, Any], api_client_for: Any
) -> None:
    with canary() as listener:
        workflow = http_workflow(
            users["owner"], {"url": f"http://127.0.0.1:{listener.port}/internal"}, retry=RETRY
        )

        run = start(api_client_for(users["owner"]), workflow)

        assert run["status"] == "failed", run
        assert run["error"]["code"] == "egress_refused" and run["error"]["retryable"] is False
        assert "loopback" in run["error"]["message"]
        assert attempts(run["id"]) == [(1, "failed", "egress_refused")]
        assert listener.connections() == 0


# --- credentials ----------------------------------------------------------------------------------


def bearer(owner: Any, name: str = "api-token", secret: str = SECRET) -> Credential:
    credential = Credential(name=name, kind="bearer", owner=owner)
    credential.set_secret(secret)
    credential.save()
    return credential


def echo(request: Received) -> Reply:
    """A careless server that echoes the request, secrets included."""
    body = json.dumps({"path": request.path, "headers": request.headers}).encode()
    return Reply(
        200,
        {"Content-Type": "application/json", "X-Echo-Auth": request.headers.get("authorization", "")},
        body,
    )


def assert_secret_nowhere(run_id: Any, client: Any, secret: str = SECRET) -> None:
    stored = [
        *RunEvent.objects.filter(run_id=run_id).values_list("data", flat=True),
        *NodeRun.objects.filter(run_id=run_id).values_list("input", "output", "error", "state"),
        *NodeAttempt.objects.filter(run_id=run_id).values_list("input", "rendered", "output", "error"),
        *Run.objects.filter(pk=run_id).values_list("inputs", "outputs", "error"),
    ]
    assert secret not in json.dumps(stored)
    for path in (
        f"/api/runs/{run_id}/",
        f"/api/runs/{run_id}/node-runs/call/",
        f"/api/runs/{run_id}/events/",
    ):
        response = client.get(path)
        assert response.status_code == 200
        assert secret not in response.content.decode()


def test_a_bearer_credential_is_applied_and_never_recorded(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    server.routes["/echo"] = echo
    credential = bearer(users["owner"])
    workflow = http_workflow(users["owner"], {"url": server.url("/echo"), "credential": credential.name})
    client = api_client_for(users["owner"])

    run = start(client, workflow)

    assert run["status"] == "succeeded", run
    assert server.received[0].headers["authorization"] == f"Bearer {SECRET}"
    result = run["outputs"]["result"]
    assert result["body"]["headers"]["authorization"] == "Bearer [redacted]"
    assert result["headers"]["x-echo-auth"] == "Bearer [redacted]"
    rendered = NodeAttempt.objects.get(run_id=run["id"]).rendered
    assert rendered is not None and rendered["credential"] == "api-token"
    assert_secret_nowhere(run["id"], client)


def test_query_header_and_basic_credentials_by_id(
    worker: Any,
    users: dict[str, Any],
    api_client_for: Any,
    server: LocalServer,
    allow_local: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.routes["/echo"] = echo
    query = Credential(name="q", kind="query", query_param="api_key", owner=users["owner"])
    query.set_secret("q-" + SECRET)
    query.save()
    header = Credential(name="h", kind="header", header_name="X-Api-Key", owner=users["owner"])
    header.set_secret("h-" + SECRET)
    header.save()
    basic = Credential(name="b", kind="basic", username="robot", owner=users["owner"])
    basic.set_secret("b-" + SECRET)
    basic.save()
    client = api_client_for(users["owner"])

    runs = [
        start(client, http_workflow(users["owner"], {"url": server.url("/echo?x=1"), "credential": found.pk}))
        for found in (query, header, basic)
    ]

    assert [run["status"] for run in runs] == ["succeeded"] * 3
    first, second, third = server.received
    assert first.path == f"/echo?x=1&api_key=q-{SECRET}"
    assert second.headers["x-api-key"] == f"h-{SECRET}"
    assert third.headers["authorization"] == "Basic cm9ib3Q6Yi10b2stU3VwM3JTZWNyZXQtOWY4ZTdkNmM="
    assert runs[0]["outputs"]["result"]["body"]["path"] == "/echo?x=1&api_key=[redacted]"
    for run in runs:
        assert_secret_nowhere(run["id"], client)
    assert_secret_nowhere(runs[2]["id"], client, "cm9ib3Q6Yi10b2stU3VwM3JTZWNyZXQtOWY4ZTdkNmM=")
    assert SECRET not in caplog.text


def test_a_run_whose_starter_may_not_use_the_credential_sends_nothing(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    server.routes["/echo"] = echo
    credential = bearer(users["editor"])
    CredentialGrant.objects.create(credential=credential, group=users["viewer"].groups.get(), role="viewer")
    workflow = http_workflow(
        users["owner"], {"url": server.url("/echo"), "credential": "api-token"}, retry=RETRY
    )
    workflow.grants.create(group=users["viewer"].groups.get(), role="runner")

    as_owner = start(api_client_for(users["owner"]), workflow)
    as_viewer = start(api_client_for(users["viewer"]), workflow)

    for run in (as_owner, as_viewer):
        assert run["status"] == "failed", run
        assert run["error"]["code"] == "credential_forbidden" and run["error"]["retryable"] is False
        assert attempts(run["id"]) == [(1, "failed", "credential_forbidden")]
    assert "needs the runner role on credential 'api-token'" in as_viewer["error"]["message"]
    assert server.received == []


def test_an_unknown_credential_fails_the_node(
    worker: Any, users: dict[str, Any], api_client_for: Any, server: LocalServer, allow_local: None
) -> None:
    workflow = http_workflow(users["owner"], {"url": server.url("/echo"), "credential": "nope"})

    run = start(api_client_for(users["owner"]), workflow)

    assert run["status"] == "failed"
    assert run["error"]["code"] == "unknown_credential"
    assert run["error"]["message"] == "There is no credential 'nope'."
    assert server.received == []


def test_bodies_are_decoded_in_their_declared_charset() -> None:
    from executions.handlers.http import _decode

    assert _decode("café".encode("latin-1"), "latin-1") == "café"
    assert _decode("café".encode(), None) == "café"
    assert _decode("café".encode(), "no-such-charset") == "café"
