"""`manage.py run_workflow <id|name>`: start a run, show its progress, print its outputs.

Exit status: 0 when the run succeeded, 1 when it failed or was cancelled (or could not start),
2 when --timeout passed first (the run goes on; its id is printed), 130 on Ctrl-C (likewise).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError, CommandParser

from executions import services
from executions.engine.states import RunStatus
from executions.models import Run, RunSource
from executions.starting import StartRefused, check_run_request
from ops import cli
from workflows.access import has_role
from workflows.choices import Role

EXIT_FAILED = 1
EXIT_TIMED_OUT = 2
EXIT_INTERRUPTED = 130


class Command(BaseCommand):
    help = "Run a workflow, show its nodes' progress live, and print its outputs as JSON."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # `--version N` names a workflow version here, not Django's version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workflow", help="The workflow's id or its exact name.")
        parser.add_argument(
            "--input",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="One run input (repeatable); a value that parses as JSON is taken as JSON.",
        )
        parser.add_argument("--inputs-json", help="All inputs as one JSON object (--input adds to it).")
        parser.add_argument("--variables-json", help="Variable overrides as a JSON object.")
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--version", type=int, dest="version_number", help="Run this published version.")
        which.add_argument("--draft", action="store_true", help="Run the current draft (needs editor).")
        parser.add_argument("--as", dest="username", help="Run as this user (default: the owner).")
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds to wait (default 600).")
        parser.add_argument("--quiet", action="store_true", help="No progress display, only the outputs.")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = cli.find_workflow(options["workflow"])
        user = cli.find_user(options["username"]) if options["username"] else workflow.owner
        if not has_role(user, workflow, Role.RUNNER):
            raise CommandError(
                f"{user.get_username()} may not run '{workflow.name}' (it needs the runner role).",
                returncode=EXIT_FAILED,
            )
        inputs: dict[str, Any] = {}
        if options["inputs_json"]:
            inputs = cli.parse_json(options["inputs_json"], "--inputs-json")
            if not isinstance(inputs, dict):
                raise CommandError("--inputs-json must be a JSON object.")
        inputs.update(cli.parse_assignments(options["input"]))
        variables: Any = {}
        if options["variables_json"]:
            variables = cli.parse_json(options["variables_json"], "--variables-json")
            if not isinstance(variables, dict):
                raise CommandError("--variables-json must be a JSON object.")
        try:
            plan = check_run_request(
                workflow,
                user,
                inputs=inputs,
                variables=variables,
                version_number=options["version_number"],
                draft=options["draft"],
            )
        except StartRefused as refusal:
            raise CommandError(json.dumps(refusal.body(), indent=2), returncode=EXIT_FAILED) from None
        except PermissionDenied as error:
            raise CommandError(str(error), returncode=EXIT_FAILED) from None

        progress = self.stderr
        progress.style_func = None  # progress is not an error: no red
        with cli.engine_in_this_process():
            run = services.create_run(
                workflow=workflow,
                version=plan.version,
                draft_graph=plan.draft_graph,
                inputs=plan.inputs,
                variables=plan.variables,
                user=user,
                source=RunSource.API,
            )
            display = cli.ProgressDisplay(run.pk, progress, enabled=not options["quiet"])
            if not options["quiet"]:
                label = "draft" if plan.version is None else f"version {plan.version.number}"
                progress.write(f"Run {run.pk} of '{workflow.name}' ({label})")
            try:
                finished = cli.follow(run.pk, display, options["timeout"])
            except KeyboardInterrupt:
                # The run is in the database: the server's workers and sweep carry it on.
                raise CommandError(
                    f"Stopped following the run {run.pk}; it goes on.", returncode=EXIT_INTERRUPTED
                ) from None
        run = Run.objects.get(pk=run.pk)
        if not finished:
            raise CommandError(
                f"The run {run.pk} is still {run.status} after {options['timeout']:g} s; it goes on.",
                returncode=EXIT_TIMED_OUT,
            )
        if run.status == RunStatus.SUCCEEDED:
            self.stdout.write(json.dumps(run.outputs, indent=2, ensure_ascii=False))
            return
        body = {"run": str(run.pk), "status": run.status, "error": run.error}
        self.stdout.write(json.dumps(body, indent=2, ensure_ascii=False))
        raise CommandError(f"The run {run.pk} ended {run.status}.", returncode=EXIT_FAILED)
