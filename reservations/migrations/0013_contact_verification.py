"""Residents manage their own contact (issue 23): codes sent by SMS to verify a mobile number,
and the history of every change of number or SMS consent."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0012_english_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ContactChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("phone", "電話番号の登録・変更"),
                            ("sms_on", "SMS受信を再開"),
                            ("sms_off", "SMS受信を停止"),
                        ],
                        max_length=10,
                        verbose_name="種類",
                    ),
                ),
                (
                    "phone",
                    models.CharField(
                        blank=True,
                        help_text="空欄は削除",
                        max_length=20,
                        verbose_name="新しい電話番号（E.164）",
                    ),
                ),
                (
                    "verified",
                    models.BooleanField(
                        default=False,
                        help_text="SMSで送った確認コードを本人が入力して確かめた番号",
                        verbose_name="確認コードで確認済み",
                    ),
                ),
                (
                    "channel",
                    models.CharField(
                        help_text="web, line, phone, sms など", max_length=10, verbose_name="経路"
                    ),
                ),
                (
                    "actor",
                    models.CharField(
                        choices=[
                            ("resident", "本人"),
                            ("proxy", "代理（家族など）"),
                            ("operator", "職員・オペレーター"),
                            ("system", "システム"),
                        ],
                        max_length=10,
                        verbose_name="実施者",
                    ),
                ),
                ("created_at", models.DateTimeField(verbose_name="日時")),
                (
                    "actor_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "resident",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contact_changes",
                        to="reservations.resident",
                    ),
                ),
            ],
            options={
                "verbose_name": "連絡先の変更履歴",
                "verbose_name_plural": "連絡先の変更履歴",
                "ordering": ["created_at", "id"],
                "indexes": [
                    models.Index(fields=["resident", "created_at"], name="contact_change_resident")
                ],
            },
        ),
        migrations.CreateModel(
            name="PhoneVerification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "phone",
                    models.CharField(max_length=20, verbose_name="確認する電話番号（E.164）"),
                ),
                ("code_hash", models.CharField(max_length=64)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "確認待ち"),
                            ("confirmed", "確認済み"),
                            ("replaced", "新しいコードに置き換え"),
                            ("locked", "入力の誤りが多いため無効"),
                        ],
                        default="pending",
                        max_length=10,
                        verbose_name="状態",
                    ),
                ),
                (
                    "wrong_attempts",
                    models.PositiveSmallIntegerField(default=0, verbose_name="誤入力の回数"),
                ),
                ("channel", models.CharField(max_length=10, verbose_name="経路")),
                (
                    "actor",
                    models.CharField(
                        choices=[
                            ("resident", "本人"),
                            ("proxy", "代理（家族など）"),
                            ("operator", "職員・オペレーター"),
                            ("system", "システム"),
                        ],
                        max_length=10,
                        verbose_name="申し込んだ人",
                    ),
                ),
                ("created_at", models.DateTimeField(verbose_name="送信日時")),
                ("expires_at", models.DateTimeField(verbose_name="有効期限")),
                (
                    "confirmed_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="確認日時"),
                ),
                (
                    "resident",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="phone_verifications",
                        to="reservations.resident",
                    ),
                ),
            ],
            options={
                "verbose_name": "携帯電話番号の確認",
                "verbose_name_plural": "携帯電話番号の確認",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["resident", "created_at"], name="phone_verification_resident"
                    ),
                    models.Index(fields=["phone", "created_at"], name="phone_verification_phone"),
                ],
            },
        ),
    ]
