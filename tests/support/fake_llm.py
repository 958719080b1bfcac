"""Local HTTP servers that speak OpenAI's and Anthropic's wire protocols closely enough for the
official SDKs, so provider tests go over a real socket without a network or a vendor account.

Each server answers on 127.0.0.1 (a free port) from a background thread, is scripted per request
with a queue of :class:`Behaviour` (a reply, an error status with headers, a slow answer, an error
in the middle of a stream), checks the API key the way its vendor does, and records every request
it received (for assertions such as "streaming was requested" or "exactly one request per
attempt", which proves the SDK's own retries are off)::

    with FakeOpenAI(api_key="sk-test-1") as server:
        server.script(rate_limited(retry_after="1"), reply("hello"))
        ... point a provider at server.base_url ...
        assert len(server.generation_requests()) == 2

A reply is streamed (SSE, chunked transfer encoding) when the request asks for ``stream``.
Connection refused is :func:`unused_port`: a port nobody listens on.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

DEFAULT_REPLY = "ok"


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one generation request."""

    text: str = DEFAULT_REPLY
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: The error message of a non-200 answer (in the vendor's error body).
    message: str = ""
    #: Wait this long before answering (longer than the client's timeout: a timeout).
    delay_s: float = 0.0
    #: Pause between streamed pieces.
    chunk_delay_s: float = 0.0
    chunk_chars: int = 4
    input_tokens: int | None = None
    output_tokens: int | None = None
    #: Send a vendor error event of this type after the first streamed piece.
    midstream_error: str | None = None
    #: Hold the answer until the test sets this (e.g. once it is subscribed to live events).
    gate: threading.Event | None = None


def reply(text: str, **fields: Any) -> Behaviour:
    return Behaviour(text=text, **fields)


def error(status: int, message: str = "", headers: dict[str, str] | None = None) -> Behaviour:
    return Behaviour(status=status, message=message or f"fake error {status}", headers=dict(headers or {}))


def rate_limited(retry_after: str | None = "1", retry_after_ms: str | None = None) -> Behaviour:
    headers: dict[str, str] = {}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if retry_after_ms is not None:
        headers["retry-after-ms"] = retry_after_ms
    return error(429, "Rate limit reached for requests", headers)


def server_error(status: int = 500) -> Behaviour:
    return error(status, "The server had an error while processing your request.")


def slow(delay_s: float, text: str = "too late") -> Behaviour:
    return Behaviour(text=text, delay_s=delay_s)


def unused_port() -> int:
    """A local port with nothing listening on it (connecting gets "connection refused")."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float
    finished_at: float | None = None

    @property
    def is_streaming(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


def words(text: str) -> int:
    return len(text.split())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read the recorded requests instead."""

    def do_GET(self) -> None:
        self.server.fake.handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake.handle(self, "POST")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeLLMServer


class FakeLLMServer:
    """The vendor-independent part: lifecycle, the behaviour queue, recording, concurrency."""

    vendor: ClassVar[str] = "fake"
    generation_path: ClassVar[str] = ""
    models_path: ClassVar[str] = ""

    def __init__(
        self,
        api_key: str = "sk-fake-key-0123456789",
        default: Behaviour | None = None,
        record: bool = True,
    ) -> None:
        self.api_key = api_key
        self.default = default or Behaviour()
        #: Keep every request (tests assert on them); off for long benchmark runs.
        self.record = record
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.vendor}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start the server first"
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        raise NotImplementedError

    # --- scripting and records ---

    def script(self, *behaviours: Behaviour) -> None:
        """Queue how the next generation requests are answered; afterwards ``default`` answers."""
        with self._lock:
            self._queue.extend(behaviours)

    def generation_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [request for request in self.requests if request.path == self.generation_path]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._queue.clear()
            self.max_in_flight = self.in_flight

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # --- serving ---

    def handle(self, http: _Handler, method: str) -> None:
        path = http.path.split("?", 1)[0]
        length = int(http.headers.get("Content-Length") or 0)
        raw = http.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(
            method=method,
            path=path,
            headers={key.lower(): value for key, value in http.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        generation = method == "POST" and path == self.generation_path
        with self._lock:
            if self.record:
                self.requests.append(record)
            if generation:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(http, method, path, record, generation)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its timeout); nothing to answer
        finally:
            record.finished_at = time.monotonic()
            if generation:
                with self._lock:
                    self.in_flight -= 1

    def _answer(
        self, http: _Handler, method: str, path: str, record: RecordedRequest, generation: bool
    ) -> None:
        given = self.presented_key(record.headers)
        if given != self.api_key:
            self.send_json(http, 401, self.error_body(401, self.bad_key_message(given)))
            return
        if method == "GET" and path == self.models_path:
            self.send_json(http, 200, self.models_body())
            return
        if not generation:
            self.send_json(http, 404, self.error_body(404, f"No route {method} {path}"))
            return
        behaviour = self._next_behaviour()
        if behaviour.gate is not None:
            while not behaviour.gate.wait(0.05):
                if self._stopping.is_set():
                    return
        if behaviour.delay_s and self._stopping.wait(behaviour.delay_s):
            return
        if behaviour.status != 200:
            self.send_json(
                http,
                behaviour.status,
                self.error_body(behaviour.status, behaviour.message),
                behaviour.headers,
            )
            return
        request = record.body if isinstance(record.body, dict) else {}
        behaviour = replace(
            behaviour,
            input_tokens=behaviour.input_tokens
            if behaviour.input_tokens is not None
            else self.prompt_words(request),
            output_tokens=behaviour.output_tokens
            if behaviour.output_tokens is not None
            else words(behaviour.text),
        )
        if record.is_streaming:
            http.send_response(200)
            http.send_header("Content-Type", "text/event-stream")
            http.send_header("Cache-Control", "no-cache")
            http.send_header("Transfer-Encoding", "chunked")
            http.end_headers()
            for event in self.stream_events(request, behaviour):
                if isinstance(event, float):
                    if self._stopping.wait(event):
                        return
                    continue
                data = event.encode()
                http.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                http.wfile.flush()
            http.wfile.write(b"0\r\n\r\n")
            http.wfile.flush()
        else:
            self.send_json(http, 200, self.completion_body(request, behaviour))

    @staticmethod
    def send_json(http: _Handler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        http.send_response(status)
        http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            http.send_header(name, value)
        http.end_headers()
        http.wfile.write(data)
        http.wfile.flush()

    @staticmethod
    def pieces(behaviour: Behaviour) -> list[str]:
        size = max(1, behaviour.chunk_chars)
        return [behaviour.text[start : start + size] for start in range(0, len(behaviour.text), size)]

    def bad_key_message(self, given: str | None) -> str:
        # Vendors echo (part of) the key they refused; the full echo is the worst case to scrub.
        return f"Incorrect API key provided: {given}." if given else "Missing API key."

    # --- vendor specifics ---

    def presented_key(self, headers: dict[str, str]) -> str | None:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def models_body(self) -> dict[str, Any]:
        raise NotImplementedError

    def prompt_words(self, request: dict[str, Any]) -> int:
        raise NotImplementedError

    def completion_body(self, request: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
        raise NotImplementedError

    def stream_events(self, request: dict[str, Any], behaviour: Behaviour) -> list[str | float]:
        """SSE text blocks, with floats standing for pauses between them."""
        raise NotImplementedError


def _content_words(content: Any) -> int:
    if isinstance(content, str):
        return words(content)
    if isinstance(content, list):
        return sum(words(part.get("text", "")) for part in content if isinstance(part, dict))
    return 0


class FakeOpenAI(FakeLLMServer):
    """``POST /v1/chat/completions`` (JSON, or SSE ``data:`` chunks ending in ``[DONE]``, with a
    usage chunk when ``stream_options.include_usage``) and ``GET /v1/models``."""

    vendor = "openai"
    generation_path = "/v1/chat/completions"
    models_path = "/v1/models"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def presented_key(self, headers: dict[str, str]) -> str | None:
        value = headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {401: "invalid_request_error", 429: "requests"}.get(
            status, "server_error" if status >= 500 else "invalid_request_error"
        )
        code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def models_body(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": "gpt-fake", "object": "model", "created": 0, "owned_by": "flowdeck-tests"}],
        }

    def prompt_words(self, request: dict[str, Any]) -> int:
        return sum(_content_words(message.get("content")) for message in request.get("messages", []))

    def _usage(self, behaviour: Behaviour) -> dict[str, int]:
        prompt, completion = behaviour.input_tokens or 0, behaviour.output_tokens or 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def completion_body(self, request: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": behaviour.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(behaviour),
        }

    def stream_events(self, request: dict[str, Any], behaviour: Behaviour) -> list[str | float]:
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": request.get("model", ""),
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        events: list[str | float] = [chunk({"role": "assistant", "content": ""})]
        for number, piece in enumerate(self.pieces(behaviour)):
            if behaviour.chunk_delay_s:
                events.append(behaviour.chunk_delay_s)
            events.append(chunk({"content": piece}))
            if behaviour.midstream_error and number == 0:
                error = {"message": "The server had an error mid-stream.", "type": behaviour.midstream_error}
                events.append(f"data: {json.dumps({'error': error})}\n\n")
                return events
        events.append(chunk({}, "stop"))
        options = request.get("stream_options") or {}
        if options.get("include_usage"):
            events.append(f"data: {json.dumps({**base, 'choices': [], 'usage': self._usage(behaviour)})}\n\n")
        events.append("data: [DONE]\n\n")
        return events


class FakeAnthropic(FakeLLMServer):
    """``POST /v1/messages`` (JSON, or SSE events ``message_start`` … ``message_stop``) and
    ``GET /v1/models``; the key goes in ``x-api-key`` (or ``Authorization: Bearer``)."""

    vendor = "anthropic"
    generation_path = "/v1/messages"
    models_path = "/v1/models"

    @property
    def base_url(self) -> str:
        return self.origin

    def presented_key(self, headers: dict[str, str]) -> str | None:
        # The API takes ``x-api-key``; SDK 2.x sends the key as a bearer token instead.
        if "x-api-key" in headers:
            return headers["x-api-key"]
        value = headers.get("authorization", "")
        return value[len("Bearer ") :] if value.startswith("Bearer ") else None

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def models_body(self) -> dict[str, Any]:
        model = {
            "type": "model",
            "id": "claude-fake",
            "display_name": "Claude Fake",
            "created_at": "2025-01-01T00:00:00Z",
        }
        return {"data": [model], "has_more": False, "first_id": "claude-fake", "last_id": "claude-fake"}

    def prompt_words(self, request: dict[str, Any]) -> int:
        system = request.get("system")
        total = _content_words(system) if system else 0
        return total + sum(_content_words(message.get("content")) for message in request.get("messages", []))

    def _message(
        self, request: dict[str, Any], content: list[dict[str, Any]], output_tokens: int
    ) -> dict[str, Any]:
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": request.get("model", ""),
            "content": content,
            "stop_reason": "end_turn" if content else None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": output_tokens},
        }

    def completion_body(self, request: dict[str, Any], behaviour: Behaviour) -> dict[str, Any]:
        message = self._message(
            request, [{"type": "text", "text": behaviour.text}], behaviour.output_tokens or 0
        )
        message["usage"]["input_tokens"] = behaviour.input_tokens or 0
        return message

    def stream_events(self, request: dict[str, Any], behaviour: Behaviour) -> list[str | float]:
        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        start = self._message(request, [], 1)
        start["usage"]["input_tokens"] = behaviour.input_tokens or 0
        events: list[str | float] = [
            event("message_start", {"message": start}),
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            event("ping", {}),
        ]
        for number, piece in enumerate(self.pieces(behaviour)):
            if behaviour.chunk_delay_s:
                events.append(behaviour.chunk_delay_s)
            events.append(
                event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
            )
            if behaviour.midstream_error and number == 0:
                error = {"type": behaviour.midstream_error, "message": "Overloaded"}
                events.append(event("error", {"error": error}))
                return events
        events += [
            event("content_block_stop", {"index": 0}),
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": behaviour.output_tokens or 0},
                },
            ),
            event("message_stop", {}),
        ]
        return events
