"""The period a question names, for recall to favour what happened then."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from clonr.memory.timeframe import mentioned_period


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize(("text", "start", "end"), [
    ("What did Jolene do on 1 February, 2023?", day(2023, 2, 1), day(2023, 2, 2)),
    ("as mentioned on 1st September 2023", day(2023, 9, 1), day(2023, 9, 2)),
    ("the 9th of Oct 2022 game", day(2022, 10, 9), day(2022, 10, 10)),
    ("on October 9, 2022", day(2022, 10, 9), day(2022, 10, 10)),
    ("logged 2024-02-29", day(2024, 2, 29), day(2024, 3, 1)),
    ("Where did Joanna travel to in July 2022?", day(2022, 7, 1), day(2022, 8, 1)),
    ("plans for December 2023", day(2023, 12, 1), day(2024, 1, 1)),
    ("What charity event did John organize in 2024?", day(2024, 1, 1), day(2025, 1, 1)),
    ("on 31 February, 2023 (no such day): the month", day(2023, 2, 1), day(2023, 3, 1)),
])
def test_dates_months_and_years_are_found(text: str, start: datetime, end: datetime) -> None:
    assert mentioned_period(text) == (start, end)


@pytest.mark.parametrize("text", ["May I ask you something?", "I ran 2023 metres", "in May", "room 2024b", ""])
def test_text_without_a_dated_period_names_none(text: str) -> None:
    assert mentioned_period(text) is None


NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(("text", "start", "end"), [
    ("what I told you today", day(2026, 3, 4), day(2026, 3, 5)),
    ("the film from yesterday", day(2026, 3, 3), day(2026, 3, 4)),
    ("three days ago I fell", day(2026, 3, 1), day(2026, 3, 2)),
    ("a day ago", day(2026, 3, 3), day(2026, 3, 4)),
    ("what did I say last week?", day(2026, 2, 23), day(2026, 3, 2)),
    ("this week", day(2026, 3, 2), day(2026, 3, 9)),
    ("last month", day(2026, 2, 1), day(2026, 3, 1)),
    ("last year", day(2025, 1, 1), day(2026, 1, 1)),
    ("in July 2022, not last week", day(2022, 7, 1), day(2022, 8, 1)),  # a dated period wins
])
def test_relative_periods_are_taken_from_now(text: str, start: datetime, end: datetime) -> None:
    assert mentioned_period(text, NOW) == (start, end)


def test_last_month_in_january_is_last_december() -> None:
    assert mentioned_period("last month", day(2026, 1, 15)) == (day(2025, 12, 1), day(2026, 1, 1))
    assert mentioned_period("last week", None) is None
