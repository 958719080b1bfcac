from django.apps import AppConfig


class TriggersConfig(AppConfig):
    name = "triggers"
    verbose_name = "Triggers"

    def ready(self) -> None:
        from executions import outbox
        from executions import services as execution_services

        from . import events

        outbox.register(events.OUTBOX_KIND, events.deliver_run_finished)
        if events.record_run_finished not in execution_services.run_finished_listeners:
            execution_services.run_finished_listeners.append(events.record_run_finished)
