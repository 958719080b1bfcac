"""`manage.py approvals list|decide`: the approval inbox from a shell.

Decisions go through executions.approvals.decide, so every rule of DESIGN §5 holds (assignees,
the self rule, one decision per user, claims, quorum, the form schema) and a resolving decision
resumes the run.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from executions import approvals
from executions.engine.approvals import ApprovalStatus
from executions.models import Approval, Run
from ops import cli

STATUSES = [status.value for status in ApprovalStatus]


class Command(BaseCommand):
    help = "List approvals, or decide one as a user (approve or reject)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="list|decide")
        listing = actions.add_parser("list", help="List approvals (pending ones by default).")
        listing.add_argument(
            "--mine-of", dest="mine_of", metavar="USER", help="Only what USER can decide now."
        )
        listing.add_argument("--status", choices=[*STATUSES, "all"], default="pending")
        listing.add_argument("--run", help="Only approvals of this run.")
        listing.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
        listing.add_argument("--limit", type=int, default=100)
        deciding = actions.add_parser("decide", help="Approve or reject as a user.")
        deciding.add_argument("approval_id")
        deciding.add_argument("decision", choices=["approve", "reject"])
        deciding.add_argument("--as", dest="username", required=True, metavar="USER")
        deciding.add_argument("--comment", default="")
        deciding.add_argument("--data", help="The approval form's fields as a JSON object.")
        deciding.add_argument(
            "--wait",
            type=float,
            default=None,
            help="Seconds to let the resumed run go on before returning (embedded mode default 60: the "
            "run continues in this process; services mode default 0: workers continue it).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self._list(options)
        else:
            self._decide(options)

    def _list(self, options: dict[str, Any]) -> None:
        queryset = Approval.objects.select_related("workflow", "claimed_by").order_by("-created_at")
        if options["status"] != "all":
            queryset = queryset.filter(status=options["status"])
        if options["run"]:
            queryset = queryset.filter(run_id=options["run"])
        if options["mine_of"]:
            queryset = approvals.mine(cli.find_user(options["mine_of"]), queryset)
        rows: list[dict[str, Any]] = [
            {
                "id": str(approval.pk),
                "status": approval.status,
                "title": approval.title,
                "workflow": approval.workflow.name,
                "run": str(approval.run_id),
                "node": approval.node_run.node_id,
                "assignees": sorted(
                    [user.username for user in approval.assigned_users.all()]
                    + [f"@{group.name}" for group in approval.assigned_groups.all()]
                ),
                "required_approvals": approval.required_approvals,
                "claimed_by": approval.claimed_by.username if approval.claimed_by else None,
                "due_at": approval.due_at.isoformat() if approval.due_at else None,
                "created_at": approval.created_at.isoformat(),
            }
            for approval in queryset.select_related("node_run").prefetch_related(
                "assigned_users", "assigned_groups"
            )[: options["limit"]]
        ]
        if options["json"]:
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        if not rows:
            self.stdout.write("No approvals.")
            return
        for row in rows:
            due = f"  due {row['due_at']}" if row["due_at"] else ""
            self.stdout.write(
                f"{row['id']}  {row['status']:<9} {row['title'][:60]:<60}  {row['workflow']}  "
                f"run {row['run']}  to {', '.join(row['assignees']) or '-'}{due}"
            )

    def _decide(self, options: dict[str, Any]) -> None:
        user = cli.find_user(options["username"])
        data = cli.parse_json(options["data"], "--data") if options["data"] else None
        wait_s = options["wait"]
        if wait_s is None:
            wait_s = 0.0 if settings.SERVICES_MODE else 60.0
        with cli.engine_in_this_process():
            try:
                approval = approvals.decide(
                    options["approval_id"], user, options["decision"], options["comment"], data
                )
            except approvals.ApprovalRefused as refusal:
                raise CommandError(json.dumps(refusal.body())) from None
            except (Http404, Approval.DoesNotExist, ValidationError, ValueError):
                raise CommandError(f"No approval has the id {options['approval_id']}.") from None
            self.stdout.write(f"{user.username} {options['decision']}d: the approval is {approval.status}.")
            if approval.status != ApprovalStatus.PENDING and wait_s > 0:
                cli.wait_until(approval.run_id, wait_s, lambda: cli.is_quiet(approval.run_id))
        run = Run.objects.filter(pk=approval.run_id).values_list("status", flat=True).first()
        self.stdout.write(f"Run {approval.run_id} is {run}.")
