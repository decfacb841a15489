"""The audit trail's context: the staff member's role, the resident's municipality, the
channel (経路) and the client's address (接続元).

Rows written before this migration get their resident's municipality, and the venue's booking
list reads (detail "list": "venue_day") get the venue channel. Their role and address were
never recorded and stay blank: guessing them would put words in the trail. The call link
becomes PROTECT, since clearing it (SET NULL) is an UPDATE that 0006 refuses on PostgreSQL.
"""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    RecordAccess = apps.get_model("phone", "RecordAccess")
    Resident = apps.get_model("reservations", "Resident")
    # One UPDATE each, whatever the size of the trail; rerunnable (same values again).
    RecordAccess.objects.filter(municipality__isnull=True).update(
        municipality_id=Subquery(
            Resident.objects.filter(pk=OuterRef("resident_id")).values("municipality_id")[:1]
        )
    )
    RecordAccess.objects.filter(detail__list="venue_day").update(channel="venue")


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0004_remove_staff_login_throttle"),
        ("reservations", "0014_event_no_show_undone"),
    ]

    operations = [
        migrations.AddField(
            model_name="recordaccess",
            name="channel",
            field=models.CharField(
                choices=[
                    ("phone", "電話"),
                    ("venue", "会場"),
                    ("exports", "出力"),
                    ("admin", "管理画面"),
                    ("api", "API"),
                    ("command", "コマンド"),
                ],
                default="phone",
                max_length=10,
                verbose_name="経路",
            ),
        ),
        migrations.AddField(
            model_name="recordaccess",
            name="client_address",
            field=models.CharField(blank=True, max_length=45, verbose_name="接続元"),
        ),
        migrations.AddField(
            model_name="recordaccess",
            name="municipality",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="reservations.municipality",
                verbose_name="自治体",
            ),
        ),
        migrations.AddField(
            model_name="recordaccess",
            name="role",
            field=models.CharField(blank=True, max_length=200, verbose_name="役割"),
        ),
        migrations.AlterField(
            model_name="recordaccess",
            name="call",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="phone.call",
            ),
        ),
        migrations.AddIndex(
            model_name="recordaccess",
            index=models.Index(fields=["municipality", "at"], name="phone_recordaccess_city_at"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
