from django.apps import AppConfig


class FrontendConfig(AppConfig):
    """Serves the single-page app: the page shell, its boot data and the Vite-built assets."""

    name = "frontend"
    verbose_name = "Front end"
