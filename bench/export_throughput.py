"""Benchmark: `export_vrs --format events` against PostgreSQL's own COPY of the same columns.

    python bench/export_throughput.py [--database-url postgres://postgres@127.0.0.1:5432/madoguchi_i8_bench]
        [--sizes 100000,1000000] [--keep]

1. drops and creates the bench database (its name must contain `bench`, 127.0.0.1 only),
   migrates it and loads the rules;
2. for each size (ascending), tops the dose table up to that many rows with one
   `INSERT … SELECT generate_series` (two doses per person, as in a primary series), then
   ANALYZE;
3. runs, each in a fresh process so that peak RSS (getrusage) belongs to one measurement:
   the export (`vrs_export_write`, events format, UTF-8, to a file) and the baseline
   `COPY (SELECT the same columns, joins and sequence checks) TO STDOUT WITH CSV` written to a
   file by psycopg;
4. prints rows/s of both, the export/COPY ratio (target ≥ 0.25) and the export's peak RSS per
   size (it must not grow with the row count).

Times are of the work only: Python and Django start-up are excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from benchdb import bench_env, database_drop, database_recreate, manage

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BASELINE_SQL = """
COPY (
  SELECT v.record_id, v.version,
         CASE WHEN v.status = 'cancelled' THEN '3' WHEN v.version > 1 THEN '2' ELSE '1' END,
         m.code, r.atena_number, t.number, v.dose_number,
         to_char(v.vaccinated_on, 'YYYYMMDD'),
         to_char(COALESCE(v.registered_at, v.created_at) AT TIME ZONE 'Asia/Tokyo',
                 'YYYYMMDDHH24MISS'),
         v.given_in_municipality_code, v.site_id, v.site_name, v.doctor_name,
         vac.vrs_maker_label, vac.name, '', '', v.lot_number, res.channel,
         CASE WHEN v.confirmed THEN '1' ELSE '0' END,
         (SELECT p.vaccinated_on FROM reservations_vaccination p
           WHERE p.resident_id = v.resident_id AND p.antigen = 'covid19'
             AND p.status = 'active' AND p.outcome = 'vaccinated'
             AND p.dose_number = v.dose_number - 1 LIMIT 1),
         EXISTS (SELECT 1 FROM reservations_vaccination d
           WHERE d.resident_id = v.resident_id AND d.antigen = 'covid19'
             AND d.status = 'active' AND d.outcome = 'vaccinated'
             AND d.dose_number = v.dose_number AND d.record_id <> v.record_id)
    FROM reservations_vaccination v
    JOIN reservations_resident r ON r.id = v.resident_id
    JOIN reservations_municipality m ON m.id = r.municipality_id
    LEFT JOIN reservations_ticket t ON t.id = v.ticket_id
    JOIN reservations_vaccine vac ON vac.id = v.vaccine_id
    LEFT JOIN reservations_reservation res ON res.id = v.reservation_id
   WHERE v.antigen = 'covid19' AND v.outcome = 'vaccinated' AND v.source = 'our_site'
     AND v.status IN ('active', 'cancelled')
     AND v.vaccinated_on BETWEEN '2021-01-01' AND '2026-12-31'
   ORDER BY v.id
) TO STDOUT WITH CSV HEADER
"""


def seed_base(database_url: str) -> None:
    """One municipality and one site, through plain SQL like the rest of the data."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO reservations_municipality"
            " (code, name, prefecture, call_centre_phone, sms_sender_label)"
            " VALUES ('452041', '日南市', '宮崎県', '', '')"
        )
        conn.execute(
            "INSERT INTO reservations_site (municipality_id, name, short_name, vrs_name, kind,"
            " address, what_to_bring, new_code_on_change, is_active)"
            " SELECT id, '日南市文化センター', '', '文化センター', 'mass', '', '', false, true"
            " FROM reservations_municipality"
        )


def top_up(database_url: str, doses: int) -> None:
    """Grow the dose table to `doses` rows: two doses per person, 21 days apart, valid."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM reservations_resident").fetchone()
        first = (have[0] if have else 0) + 1
        last = doses // 2
        if last < first:
            return
        conn.execute(
            """
            INSERT INTO reservations_resident (municipality_id, atena_number, name, name_kana,
                birth_date, sex, phone, postal_code, address, preferred_language, sms_consent,
                high_risk_attested, status, sms_consent_changed_via, created_at, updated_at)
            SELECT m.id, 'B' || g, '住民 ' || g, 'ジュウミン', DATE '1950-01-01' + (g %% 9000),
                   '0', '', '', '', 'ja', true, false, 'resident', '', now(), now()
              FROM reservations_municipality m, generate_series(%s::int, %s::int) g
            """,
            (first, last),
        )
        conn.execute(
            """
            INSERT INTO reservations_ticket (municipality_id, number, resident_id, status)
            SELECT r.municipality_id, lpad(substr(r.atena_number, 2), 10, '0'), r.id, 'issued'
              FROM reservations_resident r
             WHERE substr(r.atena_number, 2)::int BETWEEN %s AND %s
            """,
            (first, last),
        )
        conn.execute(
            """
            INSERT INTO reservations_vaccination (record_id, version, status, resident_id,
                ticket_id, vaccine_id, antigen, dose_number, vaccinated_on, outcome,
                lot_number, site_id, site_name, given_in_municipality_code, doctor_name,
                source, confirmed, override_reason, change_reason, created_at)
            SELECT gen_random_uuid(), 1, 'active', t.resident_id, t.id, vac.id, 'covid19', d,
                   DATE '2021-06-01' + ((t.resident_id %% 300) + (d - 1) * 21)::int, 'vaccinated',
                   'FF' || lpad((t.resident_id %% 10000)::text, 4, '0'), s.id, '文化センター',
                   '452041', '宮崎 一郎', 'our_site', false, '', '',
                   TIMESTAMPTZ '2021-06-01 18:00+09' + (t.resident_id %% 300 + (d - 1) * 21)
                     * INTERVAL '1 day'
              FROM reservations_ticket t
              JOIN reservations_resident r ON r.id = t.resident_id
              CROSS JOIN generate_series(1, 2) d
              CROSS JOIN (SELECT id FROM reservations_vaccine WHERE code = 'pfizer-12') vac
              CROSS JOIN (SELECT id FROM reservations_site LIMIT 1) s
             WHERE substr(r.atena_number, 2)::int BETWEEN %s AND %s
             ORDER BY t.resident_id, d
            """,
            (first, last),
        )
        conn.execute("ANALYZE")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_export(database_url: str, output: str) -> dict[str, Any]:
    os.environ.update(bench_env(database_url))
    import datetime as dt

    import django

    django.setup()
    from vrs_export.services import ExportRequest, vrs_export_write

    rss_before = _peak_rss_mib()
    started = time.perf_counter()
    batch = vrs_export_write(
        request=ExportRequest(
            format="events", date_from=dt.date(2021, 1, 1), date_to=dt.date(2026, 12, 31)
        ),
        target=Path(output),
    )
    elapsed = time.perf_counter() - started
    return {
        "rows": batch.row_count,
        "invalid": batch.invalid_count,
        "seconds": elapsed,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_setup_mib": rss_before,
        "bytes": Path(output).stat().st_size,
    }


def child_copy(database_url: str, output: str) -> dict[str, Any]:
    rss_before = _peak_rss_mib()
    started = time.perf_counter()
    rows = 0
    with (
        psycopg.connect(database_url) as conn,
        open(output, "wb") as sink,
        conn.cursor().copy(BASELINE_SQL) as copy,
    ):
        for chunk in copy:
            sink.write(chunk)
            rows += bytes(chunk).count(b"\n")
    elapsed = time.perf_counter() - started
    return {
        "rows": rows - 1,
        "seconds": elapsed,
        "peak_rss_mib": _peak_rss_mib(),
        "rss_after_setup_mib": rss_before,
        "bytes": Path(output).stat().st_size,
    }


def run_child(kind: str, database_url: str, output: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--database-url", database_url, output],
        cwd=ROOT,
        env={**os.environ, **bench_env(database_url)},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--database-url", default="postgres://postgres@127.0.0.1:5432/madoguchi_i8_bench"
    )
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", choices=["export", "copy"])
    parser.add_argument("output", nargs="?")
    args = parser.parse_args()
    if args.child:
        runner = child_export if args.child == "export" else child_copy
        print(json.dumps(runner(args.database_url, args.output)))
        return

    sizes = sorted(int(s) for s in args.sizes.split(","))
    database_recreate(args.database_url)
    try:
        manage(args.database_url, "migrate", "--verbosity", "0")
        manage(args.database_url, "load_rules")
        seed_base(args.database_url)
        print(
            f"{'doses':>9} {'export rows/s':>14} {'COPY rows/s':>12} {'ratio':>6} "
            f"{'export s':>9} {'COPY s':>7} {'export peak RSS':>16} {'COPY peak RSS':>14}"
        )
        with tempfile.TemporaryDirectory() as directory:
            for size in sizes:
                started = time.perf_counter()
                top_up(args.database_url, size)
                seeded = time.perf_counter() - started
                export = run_child("export", args.database_url, f"{directory}/export.csv")
                copy = run_child("copy", args.database_url, f"{directory}/copy.csv")
                if export["rows"] != copy["rows"] or export["invalid"]:
                    raise SystemExit(f"row counts differ: export {export} copy {copy}")
                export_rate = export["rows"] / export["seconds"]
                copy_rate = copy["rows"] / copy["seconds"]
                print(
                    f"{export['rows']:>9} {export_rate:>14,.0f} {copy_rate:>12,.0f} "
                    f"{export_rate / copy_rate:>6.2f} {export['seconds']:>9.1f} "
                    f"{copy['seconds']:>7.1f} {export['peak_rss_mib']:>12.0f} MiB "
                    f"{copy['peak_rss_mib']:>10.0f} MiB   (seeded in {seeded:.0f} s; "
                    f"export RSS after Django set-up {export['rss_after_setup_mib']:.0f} MiB)",
                    flush=True,
                )
    finally:
        if not args.keep:
            database_drop(args.database_url)


if __name__ == "__main__":
    main()
