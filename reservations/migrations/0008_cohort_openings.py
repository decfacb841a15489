import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Cohort doors: when booking opens for each birth-date band (reservations.cohorts)."""

    dependencies = [
        ("reservations", "0007_event_relay_pending"),
    ]

    operations = [
        migrations.CreateModel(
            name="CohortOpening",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "born_from",
                    models.DateField(
                        blank=True,
                        help_text="空欄なら下限なし",
                        null=True,
                        verbose_name="生年月日（から）",
                    ),
                ),
                (
                    "born_to",
                    models.DateField(
                        blank=True,
                        help_text="この日に生まれた方を含みます。例: 1946年以前生まれなら 1946-12-31。空欄なら上限なし",
                        null=True,
                        verbose_name="生年月日（まで）",
                    ),
                ),
                ("opens_at", models.DateTimeField(verbose_name="予約受付開始日時")),
                (
                    "campaign",
                    models.ForeignKey(
                        blank=True,
                        help_text="空欄ならすべての接種事業に適用。指定した事業では、その事業の行だけを使います",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cohort_openings",
                        to="reservations.campaign",
                    ),
                ),
                (
                    "municipality",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cohort_openings",
                        to="reservations.municipality",
                    ),
                ),
            ],
            options={
                "verbose_name": "年代別の予約受付開始",
                "verbose_name_plural": "年代別の予約受付開始",
                "ordering": ["municipality", "opens_at", "born_from"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("born_from__isnull", True),
                            ("born_to__isnull", True),
                            ("born_to__gte", models.F("born_from")),
                            _connector="OR",
                        ),
                        name="reservations_cohortopening_band_in_order",
                        violation_error_message="生年月日の範囲は「から」を「まで」以前にしてください。",
                    )
                ],
            },
        ),
    ]
