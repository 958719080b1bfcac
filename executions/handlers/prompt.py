"""`prompt`: send the rendered prompt to a language model and return its reply (DESIGN §3, §6).

The node names a saved agent (by slug) or an inline provider (by name) and model; values set on
the node override the agent's key by key. The reply streams to the run's viewers as coalesced
``node.delta`` messages (live only, never stored); the final text, usage, cost and latency are the
attempt's result.

The reply is data: it is parsed as JSON when asked, and never rendered as a template.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import jsonschema
from django.conf import settings

from agents import providers
from agents.models import Agent, OutputFormat, Provider
from executions import publish

from . import AttemptResult, NodeError

if TYPE_CHECKING:
    from executions.services import Claim

#: A delta is published when this much time passed since the last one …
DELTA_INTERVAL_S = 0.05
#: … or when this much text is waiting.
DELTA_MAX_CHARS = 200

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(?P<body>.*?)\n?[ \t]*```\s*$", re.DOTALL)
_SNIPPET_CHARS = 200
MILLION = Decimal(1_000_000)


class DeltaPublisher:
    """Coalesces streamed tokens into ``node.delta`` messages with a running ``index``.

    Publishing per token would send thousands of channel-layer messages per reply; this sends at
    most one per :data:`DELTA_INTERVAL_S` (or per :data:`DELTA_MAX_CHARS`), and always the rest at
    :meth:`flush`, so the concatenated deltas equal the streamed text.
    """

    def __init__(
        self,
        claim: Claim,
        send: Callable[[Any, str, str, int, int, str], None] = publish.node_delta,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._claim = claim
        self._send = send
        self._clock = clock
        self._buffer: list[str] = []
        self._buffered_chars = 0
        self._last_sent = clock()
        self.index = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self._buffer.append(text)
        self._buffered_chars += len(text)
        if self._buffered_chars >= DELTA_MAX_CHARS or self._clock() - self._last_sent >= DELTA_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if not self._buffer:
            return
        text = "".join(self._buffer)
        self._buffer.clear()
        self._buffered_chars = 0
        self._last_sent = self._clock()
        claim = self._claim
        self._send(claim.run_id, claim.node_id, claim.scope, claim.number, self.index, text)
        self.index += 1


@dataclass(frozen=True)
class PromptPlan:
    """What one attempt will send, resolved from the node's rendered config and its agent."""

    provider: Provider
    agent: Agent | None
    request: providers.PromptRequest
    output_format: str
    json_schema: dict[str, Any] | None


def _is_set(value: Any) -> bool:
    return value is not None and value != ""


def _as_text(value: Any) -> str:
    """A rendered template is a string, or a native JSON value when it was one ``{{ expr }}``."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def plan_prompt(claim: Claim) -> PromptPlan:
    config: dict[str, Any] = claim.rendered or {}
    agent: Agent | None = None
    provider: Provider | None = None
    if _is_set(config.get("agent")):
        slug = str(config["agent"])
        agent = Agent.objects.select_related("provider").filter(slug=slug).first()
        if agent is None:
            raise NodeError("unknown_agent", f"There is no agent {slug!r}.", retryable=False)
        provider = agent.provider
    if _is_set(config.get("provider")):
        name = str(config["provider"])
        provider = Provider.objects.filter(name=name).first()
        if provider is None:
            raise NodeError("unknown_provider", f"There is no provider {name!r}.", retryable=False)
    if provider is None:
        who = f"Agent {agent.slug!r} has" if agent is not None else "The node names"
        raise NodeError("unknown_provider", f"{who} no provider.", retryable=False)

    def pick(node_key: str, agent_value: Any) -> Any:
        value = config.get(node_key)
        return value if _is_set(value) else agent_value

    model = str(pick("model", agent.model if agent else "") or "")
    if not model and provider.kind != "scripted":
        raise NodeError("bad_request", "No model is set on the node or its agent.", retryable=False)
    output_format = str(pick("output", agent.output_format if agent else OutputFormat.TEXT))
    json_schema = pick("json_schema", agent.json_schema if agent else None)
    temperature = pick("temperature", agent.temperature if agent else None)
    max_tokens = pick("max_tokens", agent.max_tokens if agent else None)
    # Without a node timeout the lease is ENGINE_DEFAULT_LEASE_S (+ grace): the call must end first.
    timeout_s = float(claim.timeout_s or min(provider.timeout_s, settings.ENGINE_DEFAULT_LEASE_S))
    request = providers.PromptRequest(
        model=model,
        system=_as_text(pick("system", agent.system_prompt if agent else "")),
        prompt=_as_text(config.get("prompt")),
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        json_mode=output_format == OutputFormat.JSON,
        timeout_s=timeout_s,
        json_schema=json_schema if isinstance(json_schema, dict) else None,
        attempt=claim.number,
    )
    return PromptPlan(
        provider=provider,
        agent=agent,
        request=request,
        output_format=output_format,
        json_schema=json_schema if isinstance(json_schema, dict) else None,
    )


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…"


def parse_json_reply(text: str, schema: dict[str, Any] | None) -> Any:
    """The reply as JSON (a fenced ```json block is unwrapped), checked against ``schema``.

    Both failures are retryable: a model asked again usually answers well (DESIGN §3).
    """
    fenced = _FENCE.match(text)
    body = fenced.group("body") if fenced else text
    try:
        value = json.loads(body)
    except ValueError as error:
        raise NodeError(
            "invalid_json", f"The reply is not valid JSON ({error}): {_snippet(text)!r}", retryable=True
        ) from None
    if schema:
        validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        try:
            validator_class.check_schema(schema)
            first = jsonschema.exceptions.best_match(validator_class(schema).iter_errors(value))
        except Exception as error:  # a schema that cannot be applied (bad keyword, unresolvable $ref)
            detail = error.message if isinstance(error, jsonschema.SchemaError) else str(error)
            raise NodeError(
                "bad_request",
                f"The node's JSON schema is invalid: {_snippet(detail)}",
                retryable=False,
            ) from None
        if first is not None:
            where = "/".join(str(part) for part in first.path) or "(root)"
            raise NodeError(
                "schema_mismatch",
                f"The reply does not match the JSON schema at {where}: {_snippet(first.message)}",
                retryable=True,
            )
    return value


def cost_usd(agent: Agent | None, input_tokens: int, output_tokens: int) -> float | None:
    """From the agent's prices per million tokens; None when there is no agent or no price."""
    if agent is None:
        return None
    price_in = Decimal(agent.price_input_per_mtok or 0)
    price_out = Decimal(agent.price_output_per_mtok or 0)
    if not price_in and not price_out:
        return None
    total = (Decimal(input_tokens) * price_in + Decimal(output_tokens) * price_out) / MILLION
    return float(round(total, 6))


class PromptHandler:
    def execute(self, claim: Claim) -> AttemptResult:
        """Runs on a worker outside any transaction. Streamed pieces are published live as
        `node.delta`, coalesced (see DeltaPublisher); only the final text is stored."""
        plan = plan_prompt(claim)
        deltas = DeltaPublisher(claim)
        try:
            result = providers.call(plan.provider, plan.request, deltas.add)
        finally:
            deltas.flush()
        usage = {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens}
        cost = cost_usd(plan.agent, result.input_tokens, result.output_tokens)
        output: dict[str, Any] = {"text": result.text}
        if plan.output_format == OutputFormat.JSON:
            output["json"] = parse_json_reply(result.text, plan.json_schema)
        output.update(
            {"usage": usage, "cost_usd": cost, "model": result.model, "latency_ms": result.latency_ms}
        )
        meta = {
            "usage": usage,
            "cost_usd": cost,
            "provider_kind": plan.provider.kind,
            "model": result.model,
            "latency_ms": result.latency_ms,
        }
        return AttemptResult(output=output, meta=meta)
