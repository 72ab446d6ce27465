"""The period a message names ("on 1 February, 2023", "in July 2022", "during 2024", "yesterday", "last week"),
so recall can favour what happened then. Dates count only with a year: "May" alone is as often a verb as a
month. Relative ones are taken from `now`, in UTC like the memories' times."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

_MONTHS = {name.casefold(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS |= {name.casefold(): number for number, name in enumerate(calendar.month_abbr) if name}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"

# Most precise first: a day beats a month, a month beats a year.
_DAY_PATTERNS = (
    re.compile(rf"\b{_DAY}\s+(?:of\s+)?(?P<month>{_MONTH})\.?,?\s+{_YEAR}\b", re.IGNORECASE),  # 1 February, 2023
    re.compile(rf"\b(?P<month>{_MONTH})\.?\s+{_DAY},?\s+{_YEAR}\b", re.IGNORECASE),  # February 1, 2023
    re.compile(rf"\b{_YEAR}-(?P<month>\d\d)-(?P<day>\d\d)\b"),  # 2023-02-01
)
_MONTH_PATTERN = re.compile(rf"\b(?P<month>{_MONTH})\.?,?\s+{_YEAR}\b", re.IGNORECASE)  # July 2022
_YEAR_PATTERN = re.compile(rf"\b(?:in|of|during|since|from|around)\s+{_YEAR}\b", re.IGNORECASE)  # in 2024
_RELATIVE_PATTERN = re.compile(r"\b(?:(?P<day>today|tonight|this morning|yesterday)|(?P<which>last|this)\s+"
                               r"(?P<unit>week|month|year)|(?P<count>\d{1,3}|a|one|two|three)\s+days?\s+ago)\b",
                               re.IGNORECASE)
_COUNTS = {"a": 1, "one": 1, "two": 2, "three": 3}


def _month(text: str) -> int:
    return int(text) if text.isdigit() else _MONTHS[text.casefold()]


def _month_span(year: int, month: int) -> tuple[datetime, datetime]:
    return datetime(year, month, 1, tzinfo=UTC), datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def _relative(match: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    if match["day"]:
        start = today - timedelta(days=match["day"].casefold() == "yesterday")
        return start, start + timedelta(days=1)
    if match["count"]:
        count = match["count"].casefold()
        start = today - timedelta(days=_COUNTS.get(count) or int(count))
        return start, start + timedelta(days=1)
    back = match["which"].casefold() == "last"
    unit = match["unit"].casefold()
    if unit == "week":  # calendar weeks, Monday first
        start = today - timedelta(days=today.weekday() + 7 * back)
        return start, start + timedelta(days=7)
    if unit == "month":
        return _month_span(now.year - (now.month == 1), (now.month - 2) % 12 + 1) if back else \
            _month_span(now.year, now.month)
    return datetime(now.year - back, 1, 1, tzinfo=UTC), datetime(now.year - back + 1, 1, 1, tzinfo=UTC)


def mentioned_period(text: str, now: datetime | None = None) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC of the first date, month or year `text` names, the most precise kind first; then,
    given `now`, a relative one ("yesterday", "3 days ago", "last week", "this month", "last year")."""
    for pattern in _DAY_PATTERNS:
        for match in pattern.finditer(text):
            try:
                start = datetime(int(match["year"]), _month(match["month"]), int(match["day"]), tzinfo=UTC)
            except ValueError:  # 31 February
                continue
            return start, start + timedelta(days=1)
    if match := _MONTH_PATTERN.search(text):
        return _month_span(int(match["year"]), _month(match["month"]))
    if match := _YEAR_PATTERN.search(text):
        year = int(match["year"])
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    if now is not None and (match := _RELATIVE_PATTERN.search(text)):
        return _relative(match, now.astimezone(UTC))
    return None


_PRESENT = re.compile(r"\b(?:now|nowadays|these days|currently|current|still|at the moment|at present|anymore|"
                      r"any more|lately|these weeks|right now|this (?:week|month|year))\b", re.IGNORECASE)
_PAST = re.compile(r"\b(?:before|used to|previous(?:ly)?|former(?:ly)?|originally|at first|back then|back when|"
                   r"earlier|in the past|ago|last (?:year|month|week|time)|my old|our old)\b", re.IGNORECASE)


def asked_about(text: str) -> str | None:
    """"past" when a question asks about how things were ("Where did I live before?", "What did I use to
    drink?"), "present" when it insists on now ("these days", "currently", "still"), else None. The past
    wins when both are named: "Do I still live where I lived before?" is about the earlier place."""
    if _PAST.search(text):
        return "past"
    return "present" if _PRESENT.search(text) else None
