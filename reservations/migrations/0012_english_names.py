"""English names beside the Japanese ones (issue 23): municipalities, sites (and what to bring),
vaccines and campaigns. Empty means "show the Japanese name" (reservations.localized). A
resident's preferred language may also be ja-easy (やさしい日本語), as its help text says."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0011_confirmed_vaccination_lock"),
    ]

    operations = [
        migrations.AlterField(
            model_name="resident",
            name="preferred_language",
            field=models.CharField(
                default="ja",
                help_text="通知に使う言語（ja、en、やさしい日本語は ja-easy）",
                max_length=10,
                verbose_name="希望言語",
            ),
        ),
        migrations.AddField(
            model_name="campaign",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="英語の画面で使います。空欄なら日本語の名称を表示します。",
                max_length=100,
                verbose_name="名称（英語）",
            ),
        ),
        migrations.AddField(
            model_name="municipality",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="例: Nichinan City",
                max_length=50,
                verbose_name="名称（英語）",
            ),
        ),
        migrations.AddField(
            model_name="site",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="英語の画面・SMS・LINEで使います。空欄なら日本語の会場名を表示します。",
                max_length=100,
                verbose_name="会場名（英語）",
            ),
        ),
        migrations.AddField(
            model_name="site",
            name="what_to_bring_en",
            field=models.TextField(
                blank=True,
                help_text="英語の画面で使います。空欄なら日本語の持ち物を表示します。",
                verbose_name="持ち物（英語）",
            ),
        ),
        migrations.AddField(
            model_name="vaccine",
            name="name_en",
            field=models.CharField(
                blank=True,
                help_text="英語の画面・SMS・LINEで使います。空欄なら日本語の販売名を表示します。",
                max_length=100,
                verbose_name="販売名（英語）",
            ),
        ),
    ]
