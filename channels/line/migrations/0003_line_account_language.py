from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("line", "0002_webhook_event_unsend_and_retention"),
    ]

    operations = [
        migrations.AddField(
            model_name="lineaccount",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("ja", "日本語"), ("en", "English")],
                default="",
                max_length=10,
                verbose_name="チャットの言語",
            ),
        ),
    ]
