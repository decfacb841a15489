"""The console's own sign-in failure counter goes: django-axes now counts failed staff
sign-ins (by username and by client) for every staff door (channels/phone/sign_in.py). A lock
in progress is not carried over; the counts start afresh under axes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0003_season_plan"),
    ]

    operations = [
        migrations.DeleteModel(
            name="StaffLoginThrottle",
        ),
    ]
