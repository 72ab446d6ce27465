"""A reply cut into Discord messages: at most 2,000 characters each, between lines or words, never inside a
word, and a code block cut in two is closed at the end of one message and opened again (same language) at
the start of the next."""

from __future__ import annotations

DISCORD_LIMIT = 2000
FENCE = "```"


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """`text` as Discord messages of at most `limit` characters (nothing lost but the whitespace at a cut)."""
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    chunks: list[str] = []
    current: list[str] = []
    fence: str | None = None  # the line that opened the code block we are in, e.g. "```python"

    def size(lines: list[str]) -> int:
        return len("\n".join(lines))

    def close() -> None:
        body = [*current, FENCE] if fence else current
        if any(line.strip() for line in current):
            chunks.append("\n".join(body).strip("\n"))
        current.clear()
        if fence:
            current.append(fence)

    for line in text.split("\n"):
        reserve = len(FENCE) + 1 if fence or line.strip().startswith(FENCE) else 0
        for piece in _pieces(line, limit - reserve - (len(fence) + 1 if fence else 0)):
            if current and size([*current, piece]) + reserve > limit:
                close()
            current.append(piece)
        if line.strip().startswith(FENCE):
            fence = None if fence else line.strip()
    if any(line.strip() for line in current):
        chunks.append("\n".join(current).strip("\n"))
    return chunks


def _pieces(line: str, room: int) -> list[str]:
    """A line too long for one message, cut at the last space that fits (a word longer than `room`: hard)."""
    pieces = []
    while len(line) > room:
        cut = line.rfind(" ", 0, room + 1)
        if cut <= 0:
            cut = room
        pieces.append(line[:cut].rstrip())
        line = line[cut:].lstrip()
    pieces.append(line)
    return pieces
