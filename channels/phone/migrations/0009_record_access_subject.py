"""The audit trail names people who are not residents: a person on a health centre's follow-up
list (channels/followup) has no Resident row, so a read of their data stores an empty resident
and a `subject` ("followup.person:12"); a row names at least one of the two. The health
follow-up's staff screens read through their own channel, 健康観察.

Nothing is updated: the new column is added with its default, so the append-only trigger (0006)
is not fired."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0008_assignments_moved_to_core"),
        ("reservations", "0017_staff_assignments"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="recordaccess",
            name="subject",
            field=models.CharField(blank=True, max_length=60, verbose_name="対象"),
        ),
        migrations.AlterField(
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
                    ("followup", "健康観察"),
                ],
                default="phone",
                max_length=10,
                verbose_name="経路",
            ),
        ),
        migrations.AlterField(
            model_name="recordaccess",
            name="resident",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="reservations.resident",
                verbose_name="住民",
            ),
        ),
        migrations.AddConstraint(
            model_name="recordaccess",
            constraint=models.CheckConstraint(
                condition=models.Q(resident__isnull=False) | ~models.Q(subject=""),
                name="phone_recordaccess_names_someone",
            ),
        ),
    ]
