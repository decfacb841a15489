"""A confirmed vaccination cannot be changed by a plain UPDATE (or DELETE) on PostgreSQL.

VRS added a "confirmed" flag in November 2021 so that a checked record could not be overwritten
(vrs.md §6). Our services already refuse it; this makes the database refuse it too, so a script,
a shell session or a future bug cannot change what the municipality confirmed. The one change
allowed is the one a correction makes: the confirmed version goes from active to superseded,
nothing else about it changes, and the new version is a new row.

Compared as whole rows (to_jsonb minus status), so a column added later is covered without
touching the trigger. SQLite (the embedded default) has no such trigger: there the services'
rule stands alone.
"""

from django.db import migrations

FUNCTION = "reservations_vaccination_confirmed_lock"

CREATE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.confirmed THEN
            RAISE EXCEPTION 'confirmed vaccination % cannot be deleted: cancel it with a correction', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.confirmed AND NOT (
        OLD.status = 'active' AND NEW.status = 'superseded'
        AND (to_jsonb(NEW) - 'status') = (to_jsonb(OLD) - 'status')
    ) THEN
        RAISE EXCEPTION 'confirmed vaccination % can only change through a correction (a new version)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER {FUNCTION}
    BEFORE UPDATE OR DELETE ON reservations_vaccination
    FOR EACH ROW EXECUTE FUNCTION {FUNCTION}();
"""

DROP = f"""
DROP TRIGGER IF EXISTS {FUNCTION} ON reservations_vaccination;
DROP FUNCTION IF EXISTS {FUNCTION}();
"""


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # No parameters: the RAISE format strings hold literal % placeholders.
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0010_vaccination_copay"),
    ]

    operations = [
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP)),
    ]
