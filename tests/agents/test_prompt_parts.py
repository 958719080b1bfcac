"""The `prompt` handler's pure parts: delta coalescing, JSON reply parsing, cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agents.models import Agent
from executions.handlers import NodeError
from executions.handlers.prompt import DELTA_MAX_CHARS, DeltaPublisher, cost_usd, parse_json_reply
from executions.services import Claim


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def claim(number: int = 2) -> Claim:
    return Claim(
        attempt_id=1,
        claim_no=1,
        run_id="run-1",
        node_id="ask",
        scope="loop[3]",
        node_type="prompt",
        number=number,
        input=None,
        rendered={},
        timeout_s=None,
    )


def test_deltas_are_coalesced_by_time_and_size() -> None:
    sent: list[tuple[Any, ...]] = []
    clock = FakeClock()
    publisher = DeltaPublisher(claim(), send=lambda *message: sent.append(message), clock=clock)

    publisher.add("Hel")
    clock.now += 0.01
    publisher.add("lo")
    assert sent == []  # 10 ms after the start: held back
    clock.now += 0.05
    publisher.add(" world")
    assert sent == [("run-1", "ask", "loop[3]", 2, 0, "Hello world")]
    publisher.add("x" * DELTA_MAX_CHARS)  # too much text waiting: sent at once
    publisher.add("")
    publisher.add("tail")
    publisher.flush()
    publisher.flush()  # nothing left: sends nothing

    assert [message[4] for message in sent] == [0, 1, 2]
    assert "".join(message[5] for message in sent) == "Hello world" + "x" * DELTA_MAX_CHARS + "tail"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('```json\n{"a": [1, 2]}\n```', {"a": [1, 2]}),
        ('  ```\n["x"]\n```  ', ["x"]),
        ("42", 42),
    ],
)
def test_json_replies_are_parsed(text: str, expected: Any) -> None:
    assert parse_json_reply(text, None) == expected


@pytest.mark.parametrize(
    ("text", "schema", "code", "in_message"),
    [
        ("Sure: {a: 1}", None, "invalid_json", "Sure: {a: 1}"),
        ('Here: ```json\n{"a": 1}\n```', None, "invalid_json", "not valid JSON"),
        ('{"a": "one"}', {"properties": {"a": {"type": "integer"}}}, "schema_mismatch", "at a:"),
        ("[]", {"type": "object"}, "schema_mismatch", "(root)"),
    ],
)
def test_bad_json_replies_fail_retryable(
    text: str, schema: dict[str, Any] | None, code: str, in_message: str
) -> None:
    with pytest.raises(NodeError) as caught:
        parse_json_reply(text, schema)
    assert (caught.value.code, caught.value.retryable) == (code, True)
    assert in_message in caught.value.message


def test_an_invalid_schema_is_not_retried() -> None:
    with pytest.raises(NodeError) as caught:
        parse_json_reply("{}", {"type": "no-such-type"})
    assert (caught.value.code, caught.value.retryable) == ("bad_request", False)


def test_cost_needs_an_agent_with_prices() -> None:
    priced = Agent(price_input_per_mtok=Decimal("3"), price_output_per_mtok=Decimal("15"))
    assert cost_usd(priced, 2_000, 1_000) == 0.021
    assert cost_usd(priced, 1, 1) == 0.000018
    assert cost_usd(Agent(), 2_000, 1_000) is None  # default prices are zero: unknown, not free
    assert cost_usd(None, 2_000, 1_000) is None
