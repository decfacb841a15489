"""The audit trail's channel 自動音声電話: the staff call simulator of the automated voice
calls (channels/voice/simulator.py) shows the resident a call is for.

Only the field's choices change (no column, no row), so the append-only trigger (0006) is not
fired."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("phone", "0009_record_access_subject")]

    operations = [
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
                    ("voice", "自動音声電話"),
                ],
                default="phone",
                max_length=10,
                verbose_name="経路",
            ),
        ),
    ]
