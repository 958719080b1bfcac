"""Each trigger kind's `config`, checked and normalised (`check_*`: no side effects).

Unknown keys are refused, not ignored, like everywhere else in the API; errors come back per key
so the editor can show them next to the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from config.api.parsers import check_storable_json
from executions.engine.expressions import ExpressionError, parse_template

from .choices import CatchUp, EventStatus, Overlap, TriggerKind
from .schedule import Cron, InvalidSchedule, check_expression, check_zone

MAX_INPUTS = 100
MAX_INPUT_NAME = 64


class ConfigInvalid(Exception):
    """Field errors for `config`, keyed like DRF's: {"cron": ["…"]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items()))
        self.errors = errors


def check_config(kind: str, config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ConfigInvalid({"non_field_errors": ["config must be a JSON object."]})
    problem = check_storable_json(config, settings.API_MAX_JSON_DEPTH)
    if problem:
        raise ConfigInvalid({"non_field_errors": [problem]})
    checker = {
        TriggerKind.WEBHOOK: check_webhook_config,
        TriggerKind.SCHEDULE: check_schedule_config,
        TriggerKind.WORKFLOW_EVENT: check_event_config,
    }[TriggerKind(kind)]
    return checker(config)


def _refuse_unknown(config: dict[str, Any], allowed: set[str], errors: dict[str, list[str]]) -> None:
    for key in sorted(set(config) - allowed):
        errors[key] = ["Unknown field."]


def check_webhook_config(config: dict[str, Any]) -> dict[str, Any]:
    """Webhooks have no settings yet: the body is the inputs, the secret is generated."""
    errors: dict[str, list[str]] = {}
    _refuse_unknown(config, set(), errors)
    if errors:
        raise ConfigInvalid(errors)
    return {}


def check_schedule_config(config: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    _refuse_unknown(config, {"cron", "timezone", "catch_up", "overlap", "inputs"}, errors)
    normalized: dict[str, Any] = {
        "cron": config.get("cron"),
        "timezone": config.get("timezone", "UTC"),
        "catch_up": config.get("catch_up", CatchUp.SKIP.value),
        "overlap": config.get("overlap", Overlap.ALLOW.value),
        "inputs": config.get("inputs", {}),
    }
    zone = None
    try:
        zone = check_zone(normalized["timezone"])
    except InvalidSchedule as error:
        errors["timezone"] = [str(error)]
    if "cron" not in config:
        errors["cron"] = ["This field is required."]
    else:
        try:
            normalized["cron"] = check_expression(normalized["cron"])
        except InvalidSchedule as error:
            errors["cron"] = [str(error)]
        else:
            if zone is not None and Cron.of(normalized["cron"], zone).next_after(datetime.now(UTC)) is None:
                errors["cron"] = ["This expression never matches a date."]
    if normalized["catch_up"] not in CatchUp.values:
        errors["catch_up"] = [f"Must be one of {', '.join(CatchUp.values)}."]
    if normalized["overlap"] not in Overlap.values:
        errors["overlap"] = [f"Must be one of {', '.join(Overlap.values)}."]
    if not isinstance(normalized["inputs"], dict):
        errors["inputs"] = ["Must be an object: the run's inputs."]
    if errors:
        raise ConfigInvalid(errors)
    return normalized


def check_event_config(config: dict[str, Any]) -> dict[str, Any]:
    """The source workflow's id, the outcomes to follow, and input templates over `event.run`.

    Templates are parsed here (syntax, forbidden tags) and evaluated only when an event fires.
    Whether the owner may view the source is checked by the service, which knows the owner.
    """
    errors: dict[str, list[str]] = {}
    _refuse_unknown(config, {"workflow", "on", "inputs"}, errors)
    source = config.get("workflow")
    if isinstance(source, bool) or not isinstance(source, int) or source < 1:
        errors["workflow"] = ["Must be the id of the workflow whose runs fire this trigger."]
    on = config.get("on", [EventStatus.SUCCEEDED.value])
    if (
        not isinstance(on, list)
        or not on
        or any(not isinstance(item, str) or item not in EventStatus.values for item in on)
    ):
        errors["on"] = [f"Must be a non-empty list of {', '.join(EventStatus.values)}."]
        on = []
    inputs = config.get("inputs", {})
    if not isinstance(inputs, dict):
        errors["inputs"] = ["Must be an object: input name → template over event.run."]
    elif len(inputs) > MAX_INPUTS:
        errors["inputs"] = [f"At most {MAX_INPUTS} inputs."]
    else:
        problems = []
        for name, template in inputs.items():
            if not name or len(name) > MAX_INPUT_NAME:
                problems.append(f"{name!r}: names are 1 to {MAX_INPUT_NAME} characters.")
            elif isinstance(template, str):
                try:
                    parse_template(template)
                except ExpressionError as error:
                    problems.append(f"{name}: {error.message}")
        if problems:
            errors["inputs"] = problems
    if errors:
        raise ConfigInvalid(errors)
    return {"workflow": source, "on": sorted(set(on)), "inputs": inputs}
