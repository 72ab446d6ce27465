"""The period a message names ("on 1 February, 2023", "in July 2022", "during 2024"), so recall can favour what
happened then. Only dates that carry a year count: "May" alone is as often a verb as a month."""

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


def _month(text: str) -> int:
    return int(text) if text.isdigit() else _MONTHS[text.casefold()]


def mentioned_period(text: str) -> tuple[datetime, datetime] | None:
    """[start, end) in UTC of the first date, month or year `text` names, the most precise kind first."""
    for pattern in _DAY_PATTERNS:
        for match in pattern.finditer(text):
            try:
                start = datetime(int(match["year"]), _month(match["month"]), int(match["day"]), tzinfo=UTC)
            except ValueError:  # 31 February
                continue
            return start, start + timedelta(days=1)
    if match := _MONTH_PATTERN.search(text):
        year, month = int(match["year"]), _month(match["month"])
        return datetime(year, month, 1, tzinfo=UTC), datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    if match := _YEAR_PATTERN.search(text):
        year = int(match["year"])
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return None
