from django.db import migrations, models


class Migration(migrations.Migration):
    """The outbox flag on events. Existing rows get False (they were announced on commit before
    the relay existed), written as the column's default so PostgreSQL adds it without rewriting
    the table; new rows get True from the model's default."""

    dependencies = [
        ("reservations", "0006_day_cancellations"),
    ]

    operations = [
        migrations.AddField(
            model_name="reservationevent",
            name="relay_pending",
            field=models.BooleanField(
                default=False, editable=False, verbose_name="通知の引き渡し待ち"
            ),
        ),
        migrations.AlterField(
            model_name="reservationevent",
            name="relay_pending",
            field=models.BooleanField(
                default=True, editable=False, verbose_name="通知の引き渡し待ち"
            ),
        ),
        migrations.AddIndex(
            model_name="reservationevent",
            index=models.Index(
                condition=models.Q(("relay_pending", True)),
                fields=["id"],
                name="event_relay_pending",
            ),
        ),
    ]
