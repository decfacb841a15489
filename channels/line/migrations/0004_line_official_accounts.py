
import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('line', '0003_line_account_language'),
        ('reservations', '0001_booking_core'),
    ]

    operations = [
        migrations.AlterField(
            model_name='lineaccount',
            name='line_user_id',
            field=models.CharField(db_index=True, max_length=64),
        ),
        migrations.CreateModel(
            name='LineOfficialAccount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel_id', models.CharField(help_text='LINE Developersコンソールの「チャネル基本設定」にある数字です。', max_length=20, validators=[django.core.validators.RegexValidator('^[0-9]+$', 'チャネルIDは半角数字で入力してください。')], verbose_name='チャネルID')),
                ('channel_secret', models.CharField(max_length=64, verbose_name='チャネルシークレット')),
                ('channel_access_token', models.CharField(max_length=1000, verbose_name='チャネルアクセストークン')),
                ('is_active', models.BooleanField(default=True, verbose_name='有効')),
                ('created_at', models.DateTimeField(auto_now_add=True, verbose_name='登録日時')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='更新日時')),
                ('municipality', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='line_official_account', to='reservations.municipality', verbose_name='自治体')),
            ],
            options={
                'verbose_name': 'LINE公式アカウント',
                'verbose_name_plural': 'LINE公式アカウント',
                'ordering': ['municipality__code'],
            },
        ),
        migrations.AddField(
            model_name='lineaccount',
            name='official_account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='line_users', to='line.lineofficialaccount', verbose_name='LINE公式アカウント'),
        ),
        migrations.AddField(
            model_name='linewebhookevent',
            name='official_account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='line.lineofficialaccount'),
        ),
        migrations.AddConstraint(
            model_name='lineaccount',
            constraint=models.UniqueConstraint(condition=models.Q(('official_account__isnull', True)), fields=('line_user_id',), name='line_account_unique_settings_user'),
        ),
        migrations.AddConstraint(
            model_name='lineaccount',
            constraint=models.UniqueConstraint(condition=models.Q(('official_account__isnull', False)), fields=('official_account', 'line_user_id'), name='line_account_unique_official_user'),
        ),
    ]
