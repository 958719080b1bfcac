"""Demo data for a first look, and the admin console over every model."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from workflows.models import Workflow


def load_demo() -> str:
    output = StringIO()
    call_command("load_demo", stdout=output)
    return output.getvalue()


def test_demo_data_prints_the_password_once_and_is_safe_to_reload(db: Any) -> None:
    first = load_demo()
    password = next(line.split(": ", 1)[1] for line in first.splitlines() if "password:" in line)
    admin_user = get_user_model().objects.get(username="admin")
    assert admin_user.is_superuser and admin_user.check_password(password)
    names = sorted(Workflow.objects.values_list("name", flat=True))
    assert names == ["Document review", "Support ticket triage"]
    assert all(workflow.active_version is not None for workflow in Workflow.objects.all())

    second = load_demo()
    assert password not in second and "already exists; its password is unchanged" in second
    assert sorted(Workflow.objects.values_list("name", flat=True)) == names
    assert Workflow.objects.get(name="Document review").versions.count() == 1


@pytest.fixture
def staff_client(db: Any) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", "root@example.com", "pw"))
    load_demo()
    return client


def test_every_model_is_in_the_admin(db: Any) -> None:
    ours = [
        model
        for model in apps.get_models()
        if model._meta.app_label in {"accounts", "workflows", "executions", "agents"}
    ]
    missing = [model.__name__ for model in ours if not admin.site.is_registered(model)]
    assert missing == []


def test_every_admin_list_and_form_renders(staff_client: Client) -> None:
    for model in admin.site._registry:
        meta = model._meta
        changelist = f"/admin/{meta.app_label}/{meta.model_name}/"
        assert staff_client.get(changelist).status_code == 200, changelist
        assert staff_client.get(changelist + "?q=a").status_code == 200, changelist
        first = model._default_manager.first()
        if first is not None:
            assert staff_client.get(f"{changelist}{first.pk}/change/").status_code == 200, changelist


def test_admin_actions_archive_and_restore(staff_client: Client) -> None:
    workflow = Workflow.objects.get(name="Document review")
    url = "/admin/workflows/workflow/"
    staff_client.post(url, {"action": "archive_selected", "_selected_action": [workflow.pk]})
    workflow.refresh_from_db()
    assert workflow.is_archived and workflow.archived_at is not None
    staff_client.post(url, {"action": "restore_selected", "_selected_action": [workflow.pk]})
    workflow.refresh_from_db()
    assert not workflow.is_archived and workflow.archived_at is None


@pytest.mark.django_db(transaction=True)
def test_the_demo_workflows_run_offline_with_scripted_agents(worker: Any) -> None:
    from rest_framework.test import APIClient

    from executions import approvals, notify
    from executions.models import Approval, Run

    load_demo()
    admin_user = get_user_model().objects.get(username="admin")
    client = APIClient()
    client.force_authenticate(admin_user)

    def run(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
        workflow = Workflow.objects.get(name=name)
        response = client.post(
            f"/api/workflows/{workflow.pk}/runs/", {"inputs": inputs, "wait_s": 30}, format="json"
        )
        assert response.status_code == 201, response.content
        return dict(response.json())

    question = run("Support ticket triage", {"ticket": "How do I export my invoices?", "customer": "Bob"})
    assert question["status"] == "succeeded", question
    assert question["outputs"]["route"] == "reply" and question["outputs"]["reply"].startswith("Hi! Thanks")

    outage = run("Support ticket triage", {"ticket": "The site is down!"})
    assert outage["status"] == "waiting"
    approval = Approval.objects.get(run_id=outage["id"])
    assert approval.payload == {"ticket": "The site is down!", "category": "outage"}
    approvals.decide(approval.pk, admin_user, "approve")
    notify.wait_until_settled(outage["id"], 30, lambda: Run.objects.get(pk=outage["id"]).is_finished)
    finished = Run.objects.get(pk=outage["id"])
    assert finished.status == "succeeded" and finished.outputs == {"route": "oncall", "approved_by": "admin"}

    review = run("Document review", {"title": "Q3 report", "paragraphs": ["one two three", "four five"]})
    assert review["status"] == "succeeded", review
    assert review["outputs"] == {"title_ok": True, "long_paragraphs": [], "paragraphs": 2}
