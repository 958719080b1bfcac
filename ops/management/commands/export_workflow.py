"""`manage.py export_workflow <id|name>`: the same JSON document as `GET /api/workflows/{id}/export/`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import cli
from workflows import services


class Command(BaseCommand):
    help = "Print a workflow (its draft, or a published version) as an import/export JSON document."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # `--version N` names a workflow version here, not Django's version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("workflow", help="The workflow's id or its exact name.")
        parser.add_argument("--version", type=int, dest="version_number", help="Export this version.")
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        workflow = cli.find_workflow(options["workflow"])
        version = None
        if options["version_number"] is not None:
            version = workflow.versions.filter(number=options["version_number"]).first()
            if version is None:
                raise CommandError(f"'{workflow.name}' has no version {options['version_number']}.")
        text = json.dumps(services.export_document(workflow, version), indent=2, ensure_ascii=False)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stderr.write(f"Wrote '{workflow.name}' to {options['output']}.", style_func=None)
        else:
            self.stdout.write(text)
