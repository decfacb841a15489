"""The console's one-municipality OperatorAssignment becomes the core's StaffAssignment, which
every staff surface reads (reservations/staff_scope.py) and which holds several municipalities
and sites per user. Each row is copied as a whole-municipality assignment before the table goes."""

from django.db import migrations


def copy_to_core(apps, schema_editor):
    OperatorAssignment = apps.get_model("phone", "OperatorAssignment")
    StaffAssignment = apps.get_model("reservations", "StaffAssignment")
    StaffAssignment.objects.bulk_create(
        [
            StaffAssignment(user_id=row.user_id, municipality_id=row.municipality_id)
            for row in OperatorAssignment.objects.all()
        ],
        ignore_conflicts=True,
    )


def copy_back(apps, schema_editor):
    # One municipality per user fits the old table: the first by code of each user's.
    OperatorAssignment = apps.get_model("phone", "OperatorAssignment")
    StaffAssignment = apps.get_model("reservations", "StaffAssignment")
    seen = set()
    for row in StaffAssignment.objects.order_by("user_id", "municipality__code"):
        if row.user_id not in seen:
            seen.add(row.user_id)
            OperatorAssignment.objects.create(user_id=row.user_id, municipality_id=row.municipality_id)


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0007_console_permission"),
        ("reservations", "0017_staff_assignments"),
    ]

    operations = [
        migrations.RunPython(copy_to_core, copy_back),
        migrations.DeleteModel(name="OperatorAssignment"),
    ]
