from django.db import models


class Role(models.TextChoices):
    """What a group grant lets its members do; each role includes the ones before it."""

    VIEWER = "viewer", "Viewer"
    RUNNER = "runner", "Runner"
    EDITOR = "editor", "Editor"


#: The owner outranks every grant: only the owner archives, restores and changes sharing.
OWNER = "owner"

ROLE_RANK = {Role.VIEWER: 1, Role.RUNNER: 2, Role.EDITOR: 3, OWNER: 4}
