import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("executions", "0003_agent_deadline_timer"),
        ("workflows", "0001_workflow_definitions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Trigger",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("webhook", "Webhook"),
                            ("schedule", "Schedule"),
                            ("workflow_event", "Workflow event"),
                        ],
                        max_length=20,
                    ),
                ),
                ("name", models.CharField(blank=True, default="", max_length=200)),
                ("config", models.JSONField(blank=True, default=dict)),
                ("enabled", models.BooleanField(default=True)),
                ("token", models.CharField(blank=True, max_length=64, null=True, unique=True)),
                ("secret_encrypted", models.TextField(blank=True, default="")),
                ("previous_secret_encrypted", models.TextField(blank=True, default="")),
                ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                ("schedule_cursor", models.DateTimeField(blank=True, null=True)),
                ("next_fire_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("last_fired_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="triggers",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "source_workflow",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="workflows.workflow",
                    ),
                ),
                (
                    "workflow",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="triggers",
                        to="workflows.workflow",
                    ),
                ),
            ],
            options={
                "ordering": ["workflow", "created_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="TriggerFire",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=128)),
                (
                    "outcome",
                    models.CharField(
                        choices=[("started", "Run started"), ("skipped", "Skipped"), ("refused", "Refused")],
                        default="started",
                        max_length=10,
                    ),
                ),
                ("reason", models.TextField(blank=True, default="")),
                ("slot", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="trigger_fires",
                        to="executions.run",
                    ),
                ),
                (
                    "trigger",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="fires",
                        to="triggers.trigger",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.AddIndex(
            model_name="trigger",
            index=models.Index(
                fields=["kind", "enabled", "next_fire_at"], name="triggers_tr_kind_dd64c0_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="trigger",
            index=models.Index(
                fields=["source_workflow", "kind", "enabled"], name="triggers_tr_source__ce79aa_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="triggerfire",
            constraint=models.UniqueConstraint(fields=("trigger", "key"), name="one_fire_per_trigger_key"),
        ),
    ]
