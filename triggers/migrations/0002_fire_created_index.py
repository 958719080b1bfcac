from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("triggers", "0001_triggers"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="triggerfire",
            index=models.Index(fields=["created_at"], name="triggers_tr_created_328fd0_idx"),
        ),
    ]
