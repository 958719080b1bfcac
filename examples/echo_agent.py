#!/usr/bin/env python3
"""Echo agent: a small Flowdeck external agent, written with the Python standard library only.

It registers itself (or reuses a saved agent token), heartbeats, long-polls for `agent_task` work
of its capabilities, "does the work", and completes the task:

- an input with a string ``text`` field comes back upper-cased: ``{"text": "HELLO", ...}``;
- any other input is echoed: ``{"echo": <input>, ...}``;
- both carry ``"agent"`` (this agent's name) and ``"at"`` (when the work was done, UTC).

Start it
--------
The first time, give a *user* token (``POST /api/auth/token/``) of a user who may register agents
(staff, or a user granted "agents | external agent | Can add external agent" in the admin)::

    python examples/echo_agent.py --server http://127.0.0.1:8000 --user-token fdt_... --capability echo

The agent token it gets back is saved in ``--token-file`` (default ``~/.flowdeck/echo-agent.json``,
readable only by you) and reused on later starts, so the user token is needed only once. Or pass an
agent token directly with ``--agent-token fda_...``. Every option also reads an environment
variable: FLOWDECK_URL, FLOWDECK_USER_TOKEN, FLOWDECK_AGENT_TOKEN, FLOWDECK_AGENT_TOKEN_FILE.

In a workflow, an ``agent_task`` node with ``"capability": "echo"`` and, say,
``"input": {"text": "{{ inputs.text }}"}`` is then handled by this agent.

Behaviour worth knowing
-----------------------
- ``--work-s N`` makes each task take N seconds; the agent extends its lease while it works
  (``--no-extend`` holds the lease without extending, to watch a lease expire).
- If the server answers 409 (the lease was lost: it expired and the task went to another agent, or
  the run was cancelled), the result is dropped and the agent carries on with the next task.
- Ctrl-C (or SIGTERM) stops the agent. A task in hand is not failed: its lease lapses and the task
  is offered to another agent.
- A revoked or unknown agent token (401), or a claim refused as invalid (400: e.g. a capability the
  saved agent did not register — delete the token file to register afresh), stops the agent with
  exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_TOKEN_FILE = Path.home() / ".flowdeck" / "echo-agent.json"


class Unauthorized(Exception):
    pass


class StopAgent(Exception):
    pass


def log(name: str, message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {name}: {message}", flush=True)


class Client:
    """JSON over HTTP with one bearer token; answers (status, body or None)."""

    def __init__(self, server: str, token: str) -> None:
        self.server = server.rstrip("/")
        self.token = token

    def post(self, path: str, body: dict[str, Any] | None = None, timeout_s: float = 30) -> tuple[int, Any]:
        data = json.dumps(body if body is not None else {}).encode()
        request = urllib.request.Request(
            self.server + path,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = {"detail": raw.decode(errors="replace")[:200]}
            if error.code == 401:
                raise Unauthorized((payload or {}).get("detail", "unauthorized")) from None
            return error.code, payload


def load_or_register(args: argparse.Namespace) -> str:
    """The agent token: given, saved earlier for this server, or obtained by registering."""
    if args.agent_token:
        return str(args.agent_token)
    token_file = Path(args.token_file)
    if token_file.exists():
        saved = json.loads(token_file.read_text())
        if saved.get("server") == args.server.rstrip("/") and saved.get("token"):
            log(args.name, f"using the agent token saved in {token_file}")
            return str(saved["token"])
    if not args.user_token:
        sys.exit("No agent token: pass --user-token (to register) or --agent-token.")
    status, body = Client(args.server, args.user_token).post(
        "/api/external-agents/register/",
        {"name": args.name, "capabilities": args.capability, "version": "echo-agent 1"},
    )
    if status != 201:
        sys.exit(f"Registration refused ({status}): {body}")
    token_file.parent.mkdir(parents=True, exist_ok=True)
    token_file.touch(mode=0o600, exist_ok=True)
    token_file.write_text(
        json.dumps({"server": args.server.rstrip("/"), "id": body["id"], "token": body["token"]})
    )
    log(args.name, f"registered as agent {body['id']}; token saved in {token_file}")
    return str(body["token"])


def do_the_work(name: str, task_input: Any) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    if isinstance(task_input, dict) and isinstance(task_input.get("text"), str):
        return {"text": task_input["text"].upper(), "agent": name, "at": at}
    return {"echo": task_input, "agent": name, "at": at}


def heartbeat_forever(client: Client, name: str, every_s: float, stopping: threading.Event) -> None:
    """Heartbeat now and every ``every_s`` seconds; failures are logged (the claims retry)."""
    while True:
        try:
            client.post("/api/external-agents/heartbeat/", timeout_s=10)
        except Unauthorized:
            return  # the main loop finds out on its next request and stops
        except OSError as error:
            log(name, f"heartbeat failed: {error}")
        if stopping.wait(every_s):
            return


def work_on(client: Client, args: argparse.Namespace, lease: dict[str, Any]) -> None:
    """Do the work (taking --work-s, extending the lease meanwhile), then complete the task."""
    task_id, lease_no = lease["task_id"], lease["lease_no"]
    expires = datetime.fromisoformat(lease["lease_expires_at"].replace("Z", "+00:00"))
    lease_s = max(1.0, (expires - datetime.now(UTC)).total_seconds())
    finish_at = time.monotonic() + args.work_s
    while (remaining := finish_at - time.monotonic()) > 0:
        time.sleep(min(remaining, lease_s / 2))
        if args.extend and finish_at - time.monotonic() > 0:
            status, body = client.post(f"/api/agent-tasks/{task_id}/extend/", {"lease_no": lease_no})
            if status == 409:
                log(
                    args.name,
                    f"lost lease task={task_id} lease_no={lease_no} (409: {(body or {}).get('detail')})",
                )
                return
    result = do_the_work(args.name, lease["input"])
    status, body = client.post(
        f"/api/agent-tasks/{task_id}/complete/", {"lease_no": lease_no, "result": result}
    )
    if status == 200:
        log(args.name, f"completed task={task_id} lease_no={lease_no}")
    elif status == 409:
        log(args.name, f"lost lease task={task_id} lease_no={lease_no} (409: {(body or {}).get('detail')})")
    else:
        log(args.name, f"complete refused task={task_id} ({status}: {body})")


def run(args: argparse.Namespace) -> int:
    stopping = threading.Event()
    handled = 0
    backoff_s = 1.0
    try:
        client = Client(args.server, load_or_register(args))
        threading.Thread(
            target=heartbeat_forever, args=(client, args.name, args.heartbeat_s, stopping), daemon=True
        ).start()
        log(args.name, f"waiting for tasks of {', '.join(args.capability)} on {args.server}")
        while args.max_tasks is None or handled < args.max_tasks:
            try:
                status, body = client.post(
                    "/api/agent-tasks/claim/",
                    {"capabilities": args.capability, "wait_s": args.wait_s},
                    timeout_s=args.wait_s + 15,
                )
            except OSError as error:  # the server is down or restarting: try again, more slowly
                log(args.name, f"cannot reach the server ({error}); retrying in {backoff_s:.0f} s")
                time.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, 30)
                continue
            backoff_s = 1.0
            if status == 204:
                continue
            if status == 400:  # e.g. a capability this agent did not register: retrying cannot help
                log(args.name, f"claim refused ({status}: {body}); stopping")
                return 2
            if status != 200:
                log(args.name, f"claim refused ({status}: {body}); retrying")
                time.sleep(1)
                continue
            log(args.name, f"claimed task={body['task_id']} lease_no={body['lease_no']}")
            work_on(client, args, body)
            handled += 1
    except Unauthorized as error:
        log(args.name, f"the server refused the agent token ({error}); stopping")
        return 2
    except OSError as error:  # registering needs the server; later requests retry instead
        log(args.name, f"cannot register with {args.server} ({error}); stopping")
        return 1
    except (KeyboardInterrupt, StopAgent):
        log(args.name, "stopping")
    finally:
        stopping.set()
    return 0


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(description="A Flowdeck external agent that echoes its tasks.")
    parser.add_argument("--server", default=env("FLOWDECK_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--user-token", default=env("FLOWDECK_USER_TOKEN"), help="registers the agent")
    parser.add_argument("--agent-token", default=env("FLOWDECK_AGENT_TOKEN"), help="skips registering")
    parser.add_argument("--token-file", default=env("FLOWDECK_AGENT_TOKEN_FILE", str(DEFAULT_TOKEN_FILE)))
    parser.add_argument("--name", default=f"echo-agent@{socket.gethostname()}")
    parser.add_argument("--capability", action="append", help="repeatable (default: echo)")
    parser.add_argument("--wait-s", type=float, default=20.0, help="long-poll per claim (at most 30)")
    parser.add_argument("--work-s", type=float, default=0.0, help="how long each task takes")
    parser.add_argument("--no-extend", dest="extend", action="store_false", help="never extend a lease")
    parser.add_argument("--heartbeat-s", type=float, default=30.0)
    parser.add_argument("--max-tasks", type=int, default=None, help="exit after this many tasks")
    args = parser.parse_args(argv)
    args.capability = args.capability or ["echo"]
    return args


def main(argv: list[str] | None = None) -> int:
    def stop(signum: int, frame: Any) -> None:
        raise StopAgent()

    signal.signal(signal.SIGTERM, stop)
    return run(parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(main())
