"""Venue staff can take back a no-show on the day (issue 23): a new event kind records it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0013_contact_verification"),
    ]

    operations = [
        migrations.AlterField(
            model_name="reservationevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("held", "仮押さえ"),
                    ("booked", "予約"),
                    ("changed", "変更"),
                    ("cancelled", "キャンセル"),
                    ("hold_expired", "仮押さえ期限切れ"),
                    ("vaccinated", "接種"),
                    ("no_show", "来場なし"),
                    ("checked_in", "会場受付"),
                    ("no_show_undone", "来場なしの取消"),
                    ("reminder_due", "前日のお知らせ"),
                ],
                max_length=20,
                verbose_name="種類",
            ),
        ),
    ]
