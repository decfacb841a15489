"""reservations.csv_safety: cells a spreadsheet would run are written as text; control
characters are found with the line they are on."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError

from reservations.csv_safety import (
    SafeWriter,
    control_character_problem,
    formula_start_problem,
    neutralise,
)
from reservations.models import Site


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=cmd|'/C calc'!A0", "'=cmd|'/C calc'!A0"),
        ("+81 90", "'+81 90"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("山田 =太郎", "山田 =太郎"),
        ("", ""),
        ("2026-11-02T09:00:00+09:00", "2026-11-02T09:00:00+09:00"),
    ],
)
def test_it_neutralises_only_cells_that_start_like_a_formula(cell: str, written: str) -> None:
    assert neutralise(cell) == written


def test_the_writer_leaves_numbers_and_numeric_columns_as_data() -> None:
    out = io.StringIO()
    writer = SafeWriter(out, numeric_columns=[1])
    writer.writerow(["=HYPERLINK()", "-3.50", -2, "-x"])
    writer.writerows([["@a", "+1", 1.5, "b"]])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [
        ["'=HYPERLINK()", "-3.50", "-2", "'-x"],
        ["'@a", "+1", "1.5", "b"],
    ]


def test_a_fixed_layout_field_gets_a_reason_instead() -> None:
    assert formula_start_problem("=1", "医師名") is not None
    assert formula_start_problem("宮崎 一郎", "医師名") is None


def test_it_counts_lines_through_the_cells_before_the_character() -> None:
    cells = ["a", "line one\r\nline two", "x\ny\x00"]
    found = control_character_problem(cells, 10)
    assert found is not None and found[0] == 12 and "U+0000" in found[1]
    assert control_character_problem(["tab\tand\r\nbreaks"], 1) is None


@pytest.mark.parametrize(
    ("name", "vrs_name", "field"), [("=1", "", "name"), ("会場", "@x", "vrs_name")]
)
def test_a_site_name_exported_to_vrs_cannot_start_like_a_formula(
    name: str, vrs_name: str, field: str
) -> None:
    # The admin's form calls clean(): the name the VRS export uses is refused there.
    with pytest.raises(ValidationError) as refused:
        Site(name=name, vrs_name=vrs_name).clean()
    assert field in refused.value.message_dict
    Site(name="=1", vrs_name="文化センター").clean()  # the VRS name is what is exported
