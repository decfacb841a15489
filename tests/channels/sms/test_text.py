from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from channels.sms.text import (
    is_gsm7,
    make_sms_safe,
    segment_count,
    unsafe_chars,
)


def test_japanese_segments_are_70_then_67() -> None:
    assert segment_count("あ" * 70) == 1
    assert segment_count("あ" * 71) == 2
    assert segment_count("あ" * 134) == 2
    assert segment_count("あ" * 135) == 3
    assert segment_count("あ" * 660) == 10


def test_plain_ascii_uses_gsm7_limits() -> None:
    assert is_gsm7("Booked 10:00")
    assert segment_count("a" * 160) == 1
    assert segment_count("a" * 161) == 2
    # Escaped characters take two septets.
    assert segment_count("[" * 80) == 1
    assert segment_count("[" * 81) == 2


def test_one_japanese_character_makes_the_whole_text_ucs2() -> None:
    assert segment_count("a" * 69 + "あ") == 1
    assert segment_count("a" * 70 + "あ") == 2


def test_machine_dependent_characters_and_emoji_are_folded() -> None:
    assert make_sms_safe("①会場㈱") == "1会場(株)"
    assert make_sms_safe("髙鍋町") == "高鍋町"
    assert make_sms_safe("ｶﾀｶﾅ") == "カタカナ"
    assert make_sms_safe("会場💉") == "会場〓"
    assert unsafe_chars(make_sms_safe("🏥髙﨑①ｱ")) == []


@given(st.text(max_size=200))
def test_folded_text_is_always_safe(text: str) -> None:
    assert unsafe_chars(make_sms_safe(text)) == []
