"""The day's cancellation and its four-eyes approval move to the core (DayCancellation); a
broadcast keeps only how the residents are told. Existing broadcasts get their cancellation row
with the same people, times and count."""

import django.db.models.deletion
from django.db import migrations, models


def cancellations_from_broadcasts(apps, schema_editor):
    Broadcast = apps.get_model("notify", "Broadcast")
    DayCancellation = apps.get_model("reservations", "DayCancellation")
    for broadcast in Broadcast.objects.order_by("pk"):
        cancellation = DayCancellation.objects.create(
            operating_day_id=broadcast.operating_day_id,
            requested_by_id=broadcast.created_by_id,
            approved_by_id=broadcast.approved_by_id,
            approved_at=broadcast.approved_at,
            cancelled_reservations=broadcast.cancelled_reservations,
        )
        # requested_at is auto_now_add: set it to when the broadcast was prepared.
        DayCancellation.objects.filter(pk=cancellation.pk).update(
            requested_at=broadcast.created_at
        )
        Broadcast.objects.filter(pk=broadcast.pk).update(cancellation=cancellation)


def broadcasts_from_cancellations(apps, schema_editor):
    Broadcast = apps.get_model("notify", "Broadcast")
    for broadcast in Broadcast.objects.select_related("cancellation").order_by("pk"):
        cancellation = broadcast.cancellation
        Broadcast.objects.filter(pk=broadcast.pk).update(
            operating_day_id=cancellation.operating_day_id,
            created_by_id=cancellation.requested_by_id,
            approved_by_id=cancellation.approved_by_id,
            approved_at=cancellation.approved_at,
            cancelled_reservations=cancellation.cancelled_reservations,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0001_messages_and_broadcasts"),
        ("reservations", "0006_day_cancellations"),
    ]

    operations = [
        migrations.AddField(
            model_name="broadcast",
            name="cancellation",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="broadcast",
                to="reservations.daycancellation",
                verbose_name="稼働日の中止",
            ),
        ),
        migrations.RunPython(cancellations_from_broadcasts, broadcasts_from_cancellations),
        migrations.RemoveConstraint(model_name="broadcast", name="notify_broadcast_four_eyes"),
        migrations.RemoveConstraint(model_name="broadcast", name="notify_one_broadcast_per_day"),
        migrations.RemoveField(model_name="broadcast", name="operating_day"),
        migrations.RemoveField(model_name="broadcast", name="created_by"),
        migrations.RemoveField(model_name="broadcast", name="approved_by"),
        migrations.RemoveField(model_name="broadcast", name="approved_at"),
        migrations.RemoveField(model_name="broadcast", name="cancelled_reservations"),
        migrations.AlterField(
            model_name="broadcast",
            name="cancellation",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="broadcast",
                to="reservations.daycancellation",
                verbose_name="稼働日の中止",
            ),
        ),
    ]
