"""The audit trail is append-only on PostgreSQL: a trigger refuses every UPDATE and DELETE of
a RecordAccess row, so a script, a shell session or a future bug cannot rewrite who saw what.

Mirrors reservations/migrations/0011_confirmed_vaccination_lock.py. Nothing in the code
updates or deletes these rows: their foreign keys are PROTECT (0005), and no retention purge
is registered for them. TRUNCATE (the test runner's flush) fires no row trigger; emptying the
table for real needs the trigger dropped first, on purpose by a database owner.
SQLite (the embedded default) has no such trigger.
"""

from django.db import migrations

FUNCTION = "phone_recordaccess_append_only"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % of phone_recordaccess row % refused', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER {FUNCTION}
    BEFORE UPDATE OR DELETE ON phone_recordaccess
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {FUNCTION} ON phone_recordaccess;
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the RAISE format string holds literal % placeholders.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("phone", "0005_record_access_context"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
