"""The one boundary for untrusted JSON (files, chat exports, character cards, memory imports): parsed with limits
on nesting and number length, and with every string made valid UTF-8, so that no reader after it meets a
`RecursionError`, a 100,000-digit number or a lone surrogate. Every refusal is one line that names the file.
"""

from __future__ import annotations

import json
import re
from typing import Any

from clonr.errors import InvalidInputError

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "load_json", "valid_text"]

MAX_DEPTH = 64  # arrays and objects inside each other; real exports and cards stay under 10
MAX_NUMBER_CHARS = 64  # characters of one JSON number
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with any lone surrogate (`\\ud800`, which JSON can spell but UTF-8 cannot, and which a file name that
    is not UTF-8 decodes to) as U+FFFD, and without NUL characters (Postgres cannot store them in text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)  # paired ones were joined by the JSON parser: these are alone
    return text.replace("\x00", "") if "\x00" in text else text


def load_json(name: str, text: str) -> Any:
    """Parsed JSON, or a one-line error that says where or why it cannot be used."""
    text = text.removeprefix("\ufeff")  # a byte-order mark, as Windows tools write UTF-8
    try:
        value = json.loads(text, parse_int=_number(int), parse_float=_number(float), parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"{name} is not valid JSON (line {exc.lineno}: {exc.msg}): fix or export it "
                                "again.") from None
    except RecursionError:
        raise _too_deep(name) from None
    except _RefusedError as exc:
        raise InvalidInputError(f"{name}: {exc}") from None
    return _checked(name, value)


class _RefusedError(ValueError):
    """Raised from inside the parser, which passes it through."""


def _number(kind: type[int] | type[float]) -> Any:
    def parse(literal: str) -> int | float:
        if len(literal) > MAX_NUMBER_CHARS:
            raise _RefusedError(f"a number of {len(literal):,} characters (the limit is {MAX_NUMBER_CHARS}): this is "
                           "not an export Clonr reads.")
        return kind(literal)

    return parse


def _constant(literal: str) -> float:
    raise _RefusedError(f"{literal} is not a JSON number: export the file again.")


def _too_deep(name: str) -> InvalidInputError:
    return InvalidInputError(f"{name} is nested more than {MAX_DEPTH} levels deep: this is not an export Clonr "
                             "reads.")


def _checked(name: str, value: Any) -> Any:
    """`value` rebuilt without recursion, its strings (keys too) valid UTF-8; too deep a value is refused."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any, int]] = [(value, root, 0, 0)]  # (item, parent, key in parent, depth)
    while stack:
        item, parent, key, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_DEPTH:
                raise _too_deep(name)
            rebuilt: Any = {}
            for child_key, child in item.items():
                child_key = valid_text(child_key)
                rebuilt[child_key] = None
                stack.append((child, rebuilt, child_key, depth + 1))
        elif isinstance(item, list):
            if depth >= MAX_DEPTH:
                raise _too_deep(name)
            rebuilt = [None] * len(item)
            stack.extend((child, rebuilt, n, depth + 1) for n, child in enumerate(item))
        else:
            rebuilt = valid_text(item) if isinstance(item, str) else item
        parent[key] = rebuilt
    return root[0]
