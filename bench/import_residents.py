"""Benchmark: importing a ticket list with `resident_import`, against a no-database baseline.

    python bench/import_residents.py --rows 100000

Generates a CSV of N rows in a temporary directory, then runs, each in its own process so that
peak RSS (getrusage) belongs to one measurement only:

1. baseline: csv.DictReader + the identifier normalisers, no database;
2. import: `resident_import` into a fresh, migrated SQLite database (DATABASE_URL);
3. re-import: the same file again (every row "unchanged").

Times are of the work only (Python and Django start-up excluded). The ratios to the baseline
are what to compare across machines; the absolute numbers depend on this one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MUNICIPALITY = "452041"  # 日南市 (45204 + check digit)
HEADER = [
    "自治体コード",
    "宛名番号",
    "接種券番号",
    "氏名",
    "氏名カナ",
    "生年月日",
    "性別",
    "電話番号",
    "郵便番号",
    "住所",
    "SMS同意",
]
FAMILY = [("山田", "ヤマダ"), ("佐藤", "さとう"), ("鈴木", "ｽｽﾞｷ"), ("髙橋", "タカハシ")]
GIVEN = [("太郎", "タロウ"), ("花子", "はなこ"), ("一郎", "ｲﾁﾛｳ"), ("和子", "カズコ")]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _birth_cell(rng: random.Random, born: date, format_wareki: Callable[[date], str]) -> str:
    # The mix a real municipal list has: mostly 西暦, some 和暦, some full-width digits.
    style = rng.randrange(4)
    if style == 0:
        return born.isoformat()
    if style == 1:
        return f"{born.year}/{born.month}/{born.day}"
    if style == 2:
        return format_wareki(born)
    return format_wareki(born).translate(FULL_WIDTH)


def generate(path: Path, rows: int, seed: int = 20210517) -> None:
    sys.path.insert(0, str(ROOT))
    from reservations.identifiers import format_wareki  # pure: needs no Django set-up

    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            family, family_kana = rng.choice(FAMILY)
            given, given_kana = rng.choice(GIVEN)
            born = date(1930, 1, 1) + timedelta(days=rng.randrange(365 * 60))
            mobile = rng.random() < 0.7
            phone = (
                f"090-{rng.randrange(1000, 10000)}-{rng.randrange(10000):04d}"
                if mobile
                else f"0987-2{rng.randrange(10)}-{rng.randrange(10000):04d}"
            )
            writer.writerow(
                [
                    MUNICIPALITY,
                    f"{i + 1:012d}",
                    f"{i + 1:010d}".translate(FULL_WIDTH) if i % 10 == 0 else f"{i + 1:010d}",
                    f"{family}　{given}",
                    f"{family_kana}　{given_kana}",
                    _birth_cell(rng, born, format_wareki),
                    rng.choice(["1", "2", "男", "女", ""]),
                    phone if rng.random() < 0.9 else "",
                    f"〒889-{rng.randrange(10000):04d}",
                    f"宮崎県日南市中央通{rng.randrange(1, 5)}丁目{rng.randrange(1, 30)}番地",
                    rng.choice(["", "1", "0", "可"]),
                ]
            )


# ---------------------------------------------------------------------------
# Child processes: one measurement each
# ---------------------------------------------------------------------------


def _setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def child_baseline(path: Path) -> dict[str, Any]:
    _setup_django()
    import jaconv

    from reservations.identifiers import (
        normalize_municipality_code,
        normalize_number_input,
        normalize_phone,
        normalize_ticket_number,
        parse_birth_date,
        parse_sex,
    )

    started = time.perf_counter()
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as f:
        for record in csv.DictReader(f):
            normalize_municipality_code(record["自治体コード"])
            normalize_ticket_number(record["接種券番号"])
            parse_birth_date(record["生年月日"])
            parse_sex(record["性別"])
            if record["電話番号"]:
                normalize_phone(record["電話番号"])
            normalize_number_input(record["郵便番号"])
            normalize_number_input(record["宛名番号"])
            jaconv.hira2kata(jaconv.h2z(record["氏名カナ"], kana=True, ascii=False, digit=False))
            rows += 1
    return {"seconds": time.perf_counter() - started, "rows": rows, "rss_kib": _peak_rss_kib()}


def child_import(path: Path) -> dict[str, Any]:
    _setup_django()
    from reservations.services.residents import resident_import

    started = time.perf_counter()
    with path.open("rb") as stream:
        report = resident_import(
            stream=stream, default_municipality_code=None, dry_run=False, skip_invalid=False
        )
    seconds = time.perf_counter() - started
    if report.errors:
        raise SystemExit(f"benchmark file has bad rows: {report.errors[:5]}")
    return {
        "seconds": seconds,
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rss_kib": _peak_rss_kib(),
    }


# ---------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------


def _run_child(mode: str, path: Path, env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        env=env,
        cwd=ROOT,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        mode, file = args.child
        run = child_baseline if mode == "baseline" else child_import
        print(json.dumps(run(Path(file))))
        return

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        tmp_path = Path(tmp)
        csv_path = tmp_path / "tickets.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size_mib = csv_path.stat().st_size / 2**20
        print(
            f"generated {args.rows} rows ({size_mib:.1f} MiB) "
            f"in {time.perf_counter() - started:.1f} s"
        )

        from benchdb import SECRET_KEY, passes_production_checks

        env = passes_production_checks(
            {
                **os.environ,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
                # DEBUG off: Django would otherwise keep every query in memory.
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": SECRET_KEY,
            }
        )
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            env=env,
            cwd=ROOT,
            check=True,
        )

        results = {
            "baseline (DictReader + normalisers)": _run_child("baseline", csv_path, env),
            "import (empty database)": _run_child("import", csv_path, env),
            "re-import (all unchanged)": _run_child("import", csv_path, env),
        }

    base = results["baseline (DictReader + normalisers)"]
    print(f"{'phase':38} {'rows':>8} {'wall s':>8} {'rows/s':>9} {'peak RSS':>10} {'× base':>7}")
    for phase, r in results.items():
        print(
            f"{phase:38} {r['rows']:>8} {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>9.0f} "
            f"{r['rss_kib'] / 1024:>7.1f} MiB {r['seconds'] / base['seconds']:>7.2f}"
        )
    first = results["import (empty database)"]
    again = results["re-import (all unchanged)"]
    print(
        f"import: created={first['created']} updated={first['updated']} "
        f"unchanged={first['unchanged']}; re-import: created={again['created']} "
        f"updated={again['updated']} unchanged={again['unchanged']}"
    )


if __name__ == "__main__":
    main()
