"""The page an approval e-mail links to: login required, shows the approval, decides on POST.

A GET changes nothing (mail scanners and link previews open links); only the form's POST, with
the CSRF token of the signed-in recipient, decides.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from . import approvals


def _form_fields(form: Any) -> list[dict[str, Any]]:
    """Simple inputs for the top-level properties of the approval's form schema."""
    if not isinstance(form, dict):
        return []
    required = set(form.get("required") or [])
    fields = []
    for name, spec in (form.get("properties") or {}).items():
        spec = spec if isinstance(spec, dict) else {}
        kind = spec.get("type", "string")
        fields.append(
            {
                "name": name,
                "label": spec.get("title") or name,
                "kind": "select" if "enum" in spec else kind,
                "options": spec.get("enum") or [],
                "required": name in required,
                "description": spec.get("description", ""),
            }
        )
    return fields


def _data_from_post(form: Any, post: Any) -> Any:
    if not isinstance(form, dict):
        return None
    data: dict[str, Any] = {}
    for field in _form_fields(form):
        name = field["name"]
        raw = post.get(f"data.{name}")
        if field["kind"] == "boolean":
            data[name] = raw == "on"
        elif raw in (None, ""):
            continue
        elif field["kind"] in ("integer", "number"):
            try:
                data[name] = int(raw) if field["kind"] == "integer" else float(raw)
            except ValueError:
                data[name] = raw  # the schema check reports it
        else:
            data[name] = raw
    return data


@login_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = approvals.link_for(token, request.user)
    except approvals.LinkRefused as refusal:
        return render(request, "approvals/confirm.html", {"problem": refusal.message}, status=refusal.status)
    approval = link.approval
    context: dict[str, Any] = {"approval": approval, "fields": _form_fields(approval.form), "token": token}
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("approve", "reject"):
            context["problem"] = "Choose approve or reject."
            return render(request, "approvals/confirm.html", context, status=400)
        data = _data_from_post(approval.form, request.POST)
        try:
            decided = approvals.decide_by_link(
                token, request.user, decision, request.POST.get("comment", ""), data
            )
        except approvals.ApprovalRefused as error:
            context["problem"] = error.refusal.detail
            return render(request, "approvals/confirm.html", context, status=error.refusal.status)
        except approvals.LinkRefused as refusal:
            return render(
                request, "approvals/confirm.html", {"problem": refusal.message}, status=refusal.status
            )
        return render(request, "approvals/confirm.html", {"done": decided, "decision": decision})
    return render(request, "approvals/confirm.html", context)
