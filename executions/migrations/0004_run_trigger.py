import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0003_agent_deadline_timer"),
        ("triggers", "0001_triggers"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="trigger",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="runs",
                to="triggers.trigger",
            ),
        ),
        migrations.AddField(
            model_name="run",
            name="chain_depth",
            field=models.PositiveSmallIntegerField(default=0),
        ),
    ]
