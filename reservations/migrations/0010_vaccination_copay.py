from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0009_opening_checks"),
    ]

    operations = [
        migrations.AddField(
            model_name="vaccination",
            name="copay_category",
            field=models.CharField(
                blank=True,
                choices=[
                    ("1", "自己負担あり"),
                    ("2", "免除（生活保護）"),
                    ("3", "免除（住民税非課税）"),
                    ("4", "全額自己負担（任意接種・定期接種の対象外）"),
                    ("5", "自己負担なし（A類定期接種・臨時接種・特例臨時接種）"),
                ],
                max_length=1,
                verbose_name="自己負担区分",
            ),
        ),
    ]
