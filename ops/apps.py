from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: the command line, the operations figures and console, retention, the
    templates gallery."""

    name = "ops"
    verbose_name = "Operations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import sweeps

        sweeps.connect()
