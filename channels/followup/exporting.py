"""Health follow-up answers as CSV, one row per answer: for `manage.py followup_export` and the
staff's download button on the cohort page (/followup/export.csv).

UTF-8 with a BOM and CRLF line ends, so Excel on Japanese Windows opens it as it is; text cells
are neutralised against formula injection (reservations/csv_safety.py). Questionnaires differ
in their questions, so the answer is one readable column (体温=37.2℃; 症状=息苦しい・せき)
rather than a column per question. The headings and words are Japanese whatever the
language of the person exporting: a file read by spreadsheets and other systems keeps one
layout.

Each export is an audited read of every person in it (reservations/audit.py): by the command
when run with --user, by the download always.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice
from typing import IO, Any

from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from channels.followup.models import AlertLevel, FollowedPerson, FollowUpAnswer
from channels.followup.staff_selectors import JST, QuestionBook, alert_messages, phone_display
from reservations.csv_safety import SafeWriter
from reservations.models import Municipality

EXPORT_HEADER = (
    "自治体コード",
    "氏名",
    "生年月日",
    "電話番号",
    "質問票",
    "版",
    "観察日",
    "回答日時",
    "代理回答",
    "回答",
    "アラート",
    "アラート内容",
)
# 版 is a number; every other column is text and is neutralised by SafeWriter.
EXPORT_NUMERIC_COLUMNS = (EXPORT_HEADER.index("版"),)
LEVEL_WORDS = {AlertLevel.NONE: "なし", AlertLevel.YELLOW: "黄", AlertLevel.RED: "赤"}
# The longest range one export covers: a season, with room.
MAX_EXPORT_DAYS = 366
# Rows read per query: memory stays flat however long the range.
EXPORT_CHUNK = 2000


def export_answers(
    *, date_from: dt.date, date_to: dt.date, municipality: Municipality | None = None
) -> QuerySet[FollowUpAnswer]:
    """The answers of the observation days date_from..date_to (both included), of one
    municipality's people or of all, by municipality, day and person."""
    answers = FollowUpAnswer.objects.filter(for_date__gte=date_from, for_date__lte=date_to)
    if municipality is not None:
        answers = answers.filter(followup__person__municipality=municipality)
    return answers.select_related(
        "followup__person__municipality", "followup__questionnaire"
    ).order_by("followup__person__municipality__code", "for_date", "followup__person__name", "id")


def export_people(answers: QuerySet[FollowUpAnswer]) -> list[FollowedPerson]:
    """The people an export holds, once each (its audit rows)."""
    ids = answers.order_by().values_list("followup__person_id", flat=True).distinct()
    return list(FollowedPerson.objects.filter(pk__in=ids).order_by("pk"))


def _cells(answer: FollowUpAnswer, book: QuestionBook) -> list[Any]:
    followup = answer.followup
    person = followup.person
    questionnaire = followup.questionnaire
    shown = book.shown(questionnaire, answer.values if isinstance(answer.values, dict) else {})
    return [
        person.municipality.code,
        person.name,
        person.birth_date.isoformat(),
        phone_display(person.phone),
        questionnaire.title,
        questionnaire.version,
        answer.for_date.isoformat(),
        answer.answered_at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"),
        "はい" if answer.answered_by_proxy else "いいえ",
        "; ".join(f"{value.label}={value.text}" for value in shown),
        LEVEL_WORDS.get(AlertLevel(answer.alert_level), answer.alert_level),
        " / ".join(message for _level, message in alert_messages(answer)),
    ]


def export_cells(answers: QuerySet[FollowUpAnswer]) -> Iterator[list[Any]]:
    """Each answer as the file's cells (EXPORT_HEADER)."""
    book = QuestionBook()
    stream = answers.iterator(chunk_size=EXPORT_CHUNK)
    # The words inside the answers (choice separators) in Japanese, as the headings.
    with translation.override("ja"):
        while chunk := list(islice(stream, EXPORT_CHUNK)):
            for answer in chunk:
                yield _cells(answer, book)


def export_write(stream: IO[str] | Any, answers: QuerySet[FollowUpAnswer]) -> int:
    """The BOM, the header and every row, CRLF; returns the number of rows."""
    stream.write("\ufeff")
    writer = SafeWriter(stream, lineterminator="\r\n", numeric_columns=EXPORT_NUMERIC_COLUMNS)
    writer.writerow(EXPORT_HEADER)
    count = 0
    for cells in export_cells(answers):
        writer.writerow(cells)
        count += 1
    return count


def export_file_name(
    *, date_from: dt.date, date_to: dt.date, municipality: Municipality | None
) -> str:
    city = municipality.code if municipality is not None else "all"
    return f"followup-{city}-{date_from:%Y%m%d}-{date_to:%Y%m%d}.csv"


def range_problem(date_from: dt.date, date_to: dt.date) -> str | None:
    """Why the range cannot be exported (Japanese), or None."""
    if date_to < date_from:
        return _("終了日には開始日以降の日付を指定してください。")
    if (date_to - date_from).days + 1 > MAX_EXPORT_DAYS:
        return _("期間は%(days)d日以内で指定してください。") % {"days": MAX_EXPORT_DAYS}
    return None
