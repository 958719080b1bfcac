"""`manage.py import_workflow FILE --owner USER`: what `POST /api/workflows/import/` does — always a
new workflow — optionally published right away."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ops import cli
from workflows import services
from workflows.api.serializers import ExportDocumentSerializer


class Command(BaseCommand):
    help = "Create a new workflow from an export document (a file, or - for standard input)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The export document; - reads standard input.")
        parser.add_argument("--owner", required=True, help="Username of the new workflow's owner.")
        parser.add_argument("--name", help="Name the workflow this instead of the document's name.")
        parser.add_argument("--publish", action="store_true", help="Publish and activate version 1.")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = cli.find_user(options["owner"])
        if options["file"] == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(options["file"]).read_text(encoding="utf-8")
            except OSError as error:
                raise CommandError(f"Cannot read {options['file']}: {error.strerror}") from None
        serializer = ExportDocumentSerializer(data=cli.parse_json(text, options["file"]))
        if not serializer.is_valid():
            raise CommandError(f"Not a Flowdeck workflow document: {dict(serializer.errors)}")
        document = dict(serializer.validated_data)
        if options["name"]:
            document["name"] = options["name"]
        try:
            workflow = services.import_document(owner, document)
        except services.GraphShapeError as error:
            raise CommandError(f"The graph is malformed: {error.errors}") from None
        self.stdout.write(f"Imported '{workflow.name}' as workflow {workflow.pk}.")
        if options["publish"]:
            try:
                version, _ = services.publish_workflow(workflow, author=owner, note="Imported")
            except services.InvalidGraph as error:
                raise CommandError(
                    f"Imported as a draft, but it cannot be published: {error.errors}"
                ) from None
            self.stdout.write(f"Published version {version.number}.")
