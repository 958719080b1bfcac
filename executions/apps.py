from django.apps import AppConfig
from django.conf import settings


class ExecutionsConfig(AppConfig):
    name = "executions"
    verbose_name = "Executions"

    def ready(self) -> None:
        from celery.signals import worker_ready

        from agents.handlers import AgentTaskHandler

        from . import outbox
        from .approvals import EMAIL_KIND, ApprovalHandler, send_approval_email
        from .handlers import register_attempt_handler, register_wait_handler, subworkflow
        from .handlers.delay import DelayHandler
        from .handlers.http import HttpHandler
        from .handlers.prompt import PromptHandler

        register_wait_handler("delay", DelayHandler())
        register_wait_handler("approval", ApprovalHandler())
        register_wait_handler("agent_task", AgentTaskHandler())
        register_attempt_handler("prompt", PromptHandler())
        register_attempt_handler("http", HttpHandler())
        subworkflow.install()
        outbox.register(EMAIL_KIND, send_approval_email)
        if settings.FLOWDECK_TEST_NODE_TYPES:
            from .handlers import noop

            noop.install()
        worker_ready.connect(_sweep_at_worker_start, weak=False, dispatch_uid="flowdeck-sweep-at-start")


def _sweep_at_worker_start(sender: object = None, **kwargs: object) -> None:
    """A worker that starts after a crash picks up what the crash left behind straight away."""
    from .tasks import sweep

    sweep.delay()
