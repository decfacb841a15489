"""The rules data file: loads idempotently; a broken entry is named, and nothing is written."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from reservations.models import EligibilityRule, IntervalRule, Vaccine

pytestmark = pytest.mark.django_db

GOOD = """
[[vaccine]]
code = "test-vax"
name = "テストワクチン"
antigen = "covid19"
platform = "mrna"

[[program]]
code = "test-program"
name = "テスト事業"
antigen = "covid19"
category = "voluntary"

[[eligibility]]
code = "test.age"
program = "test-program"
min_age = "65y"
effective_from = 2024-10-01
"""


def load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("load_rules", str(path), stdout=out)
    return out.getvalue()


def test_it_loads_the_national_file_twice_without_changes() -> None:
    call_command("load_rules", stdout=StringIO())
    second = StringIO()
    call_command("load_rules", stdout=second)
    assert "新規 0 / 更新 0" in second.getvalue()
    assert IntervalRule.objects.filter(code="covid.booster.3m").exists()


def test_it_reads_ages_in_months(tmp_path: Path) -> None:
    load(tmp_path, GOOD)
    assert EligibilityRule.objects.get(code="test.age").min_age_months == 65 * 12


@pytest.mark.parametrize(
    ("broken", "named"),
    [
        (GOOD.replace('min_age = "65y"', 'min_age = "65 years"'), "eligibility test.age"),
        (
            GOOD.replace('program = "test-program"\nmin_age', 'program = "nope"\nmin_age'),
            "unknown program 'nope'",
        ),
        (GOOD.replace("effective_from = 2024-10-01", ""), "missing 'effective_from'"),
        (
            GOOD.replace('platform = "mrna"', 'platform = "mrna"\ndoses_per_vail = 6'),
            "vaccine test-vax",
        ),
        (GOOD.replace('category = "voluntary"', 'category = "sometimes"'), "program test-program"),
        ("[[vaccine]\n", "rules.toml"),
    ],
)
def test_it_names_the_broken_entry_and_writes_nothing(
    tmp_path: Path, broken: str, named: str
) -> None:
    with pytest.raises(CommandError) as error:
        load(tmp_path, broken)
    assert named in str(error.value)
    assert not Vaccine.objects.filter(code="test-vax").exists()
