"""Load the rules data file (reservations/rules/national.toml) into the rule tables."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from reservations.models import (
    Campaign,
    EligibilityRule,
    IntervalRule,
    Program,
    Vaccine,
)

NATIONAL_RULES_PATH = Path(__file__).resolve().parent.parent / "rules" / "national.toml"

_AGE = re.compile(r"^(\d+)([ym])$")


class RulesFileError(ValueError):
    """The rules file is malformed; the message names the entry."""


@dataclass
class RulesLoadReport:
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        bucket = getattr(self, outcome)
        bucket[kind] = bucket.get(kind, 0) + 1


def _age_months(value: str | None, where: str) -> int | None:
    if value is None:
        return None
    match = _AGE.match(value)
    if match is None:
        raise RulesFileError(f"{where}: age {value!r} must look like '12y' or '6m'")
    number, unit = int(match.group(1)), match.group(2)
    return number * 12 if unit == "y" else number


def _doses(entry: dict[str, Any], where: str) -> dict[str, int | None]:
    doses = entry.get("doses", [1])
    if not isinstance(doses, list) or not 1 <= len(doses) <= 2:
        raise RulesFileError(f"{where}: doses must be [min] or [min, max]")
    return {"dose_number_min": doses[0], "dose_number_max": doses[1] if len(doses) == 2 else None}


def _upsert(
    model: Any, lookup: dict[str, Any], values: dict[str, Any], report: RulesLoadReport, kind: str
) -> Any:
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values)
        obj.full_clean()
        obj.save()
        report.count(kind, "created")
        return obj
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    if changed:
        for k in changed:
            setattr(obj, k, values[k])
        obj.full_clean()
        obj.save(update_fields=changed)
        report.count(kind, "updated")
    else:
        report.count(kind, "unchanged")
    return obj


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if not isinstance(value, dt.date):
        raise RulesFileError(f"{where}: {value!r} is not a date (write 2024-10-01, unquoted)")
    return value


@contextmanager
def _entry(kind: str, entry: dict[str, Any]) -> Iterator[None]:
    """Name the file entry in any error, instead of a traceback from deep in the ORM."""
    where = f"{kind} {entry.get('code', '?')}"
    try:
        yield
    except RulesFileError:
        raise
    except KeyError as exc:
        raise RulesFileError(f"{where}: missing {exc.args[0]!r}") from exc
    except (TypeError, ValueError, ValidationError) as exc:
        raise RulesFileError(f"{where}: {exc}") from exc


@transaction.atomic
def rules_load(*, path: Path = NATIONAL_RULES_PATH) -> RulesLoadReport:
    """Upsert vaccines, programmes, campaigns and national rules by code. Idempotent."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise RulesFileError(f"{path}: {exc}") from exc
    report = RulesLoadReport()
    vaccines: dict[str, Vaccine] = {}
    for entry in data.get("vaccine", []):
        with _entry("vaccine", entry):
            values = {k: v for k, v in entry.items() if k != "code"}
            vaccines[entry["code"]] = _upsert(
                Vaccine, {"code": entry["code"]}, values, report, "vaccine"
            )
    vaccines.update({v.code: v for v in Vaccine.objects.exclude(code__in=vaccines)})

    def vaccine(code: str | None, where: str) -> Vaccine | None:
        if code is None:
            return None
        if code not in vaccines:
            raise RulesFileError(f"{where}: unknown vaccine {code!r}")
        return vaccines[code]

    programs: dict[str, Program] = {}
    for entry in data.get("program", []):
        with _entry("program", entry):
            values = {k: v for k, v in entry.items() if k != "code"}
            programs[entry["code"]] = _upsert(
                Program, {"code": entry["code"]}, values, report, "program"
            )
    programs.update({p.code: p for p in Program.objects.exclude(code__in=programs)})

    def program(code: str, where: str) -> Program:
        if code not in programs:
            raise RulesFileError(f"{where}: unknown program {code!r}")
        return programs[code]

    for entry in data.get("campaign", []):
        with _entry("campaign", entry):
            where = f"campaign {entry.get('code')}"
            campaign = _upsert(
                Campaign,
                {"code": entry["code"]},
                {
                    "name": entry["name"],
                    # Only when the file has one, so an English name typed in the admin stays.
                    **({"name_en": entry["name_en"]} if "name_en" in entry else {}),
                    "program": program(entry["program"], where),
                    "municipality": None,
                    "starts_on": _date(entry["starts_on"], where),
                    "ends_on": _date(entry.get("ends_on"), where),
                },
                report,
                "campaign",
            )
            wanted = [vaccine(code, where) for code in entry.get("vaccines", [])]
            campaign.vaccines.set(wanted)

    for entry in data.get("eligibility", []):
        with _entry("eligibility", entry):
            where = f"eligibility {entry.get('code')}"
            _upsert(
                EligibilityRule,
                {"code": entry["code"], "municipality": None},
                {
                    "program": program(entry["program"], where),
                    "vaccine": vaccine(entry.get("vaccine"), where),
                    **_doses(entry, where),
                    "min_age_months": _age_months(entry.get("min_age", "0y"), where),
                    "below_age_months": _age_months(entry.get("below_age"), where),
                    "age_basis": entry.get("age_basis", EligibilityRule.AgeBasis.ON_DATE),
                    "requires_attestation": entry.get("requires_attestation", False),
                    "effective_from": _date(entry["effective_from"], where),
                    "effective_to": _date(entry.get("effective_to"), where),
                    "booking_opens_on": _date(entry.get("booking_opens_on"), where),
                    "source": entry.get("source", ""),
                    "note": entry.get("note", ""),
                },
                report,
                "eligibility",
            )

    for entry in data.get("interval", []):
        with _entry("interval", entry):
            where = f"interval {entry.get('code')}"
            _upsert(
                IntervalRule,
                {"code": entry["code"], "municipality": None},
                {
                    "antigen": entry["antigen"],
                    "vaccine": vaccine(entry.get("vaccine"), where),
                    **_doses(entry, where),
                    "reference": entry["reference"],
                    "reference_antigen": entry.get("reference_antigen", ""),
                    "exempt_antigens": entry.get("exempt_antigens", []),
                    "amount": entry["amount"],
                    "unit": entry["unit"],
                    "strength": entry["strength"],
                    "requires_reason": entry.get("requires_reason", False),
                    "after_primary_series": entry.get("after_primary_series", False),
                    "effective_from": _date(entry["effective_from"], where),
                    "effective_to": _date(entry.get("effective_to"), where),
                    "source": entry.get("source", ""),
                    "note": entry.get("note", ""),
                },
                report,
                "interval",
            )
    return report
