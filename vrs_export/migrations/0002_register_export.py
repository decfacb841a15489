from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vrs_export", "0001_export_batches"),
    ]

    operations = [
        migrations.AddField(
            model_name="exportbatch",
            name="program_code",
            field=models.CharField(blank=True, max_length=40, verbose_name="接種事業"),
        ),
        migrations.AlterField(
            model_name="exportbatch",
            name="format",
            field=models.CharField(
                choices=[
                    ("ledger", "予防接種台帳向け（1人1行）"),
                    ("events", "接種記録（1回1行、処理区分つき）"),
                    ("register", "予防接種台帳向け（1回1行、全接種事業）"),
                ],
                max_length=10,
                verbose_name="形式",
            ),
        ),
    ]
