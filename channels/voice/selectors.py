"""Reads of calls: lines in use, a person's calls, and what calls cost per day."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate

from channels.voice.models import VoiceCall


def lines_in_use(provider: str) -> set[int]:
    lines = VoiceCall.objects.filter(provider=provider, line__isnull=False).values_list(
        "line", flat=True
    )
    return {line for line in lines if line is not None}


def calls_for_resident(*, resident_id: int, limit: int = 50) -> QuerySet[VoiceCall]:
    return (
        VoiceCall.objects.filter(resident_id=resident_id)
        .prefetch_related("keys")
        .order_by("-placed_at", "-id")[:limit]
    )


def calls_per_day(
    *, municipality_ids: list[int], start: dt.date, end: dt.date
) -> list[dict[str, object]]:
    """Per municipality and day (local): calls placed and seconds talked, for the cost line
    on the dashboard. `end` is inclusive."""
    return list(
        VoiceCall.objects.filter(
            municipality_id__in=municipality_ids,
            placed_at__date__gte=start,
            placed_at__date__lte=end,
        )
        .annotate(day=TruncDate("placed_at"))
        .values("municipality_id", "day")
        .annotate(calls=Count("id"), seconds=Sum("duration_seconds"))
        .order_by("day", "municipality_id")
    )
