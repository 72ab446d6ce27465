"""YouTube videos → transcripts with their timestamps (youtube-transcript-api; it talks only to youtube.com, through
the address guard when given a guarded session)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from clonr.errors import InvalidInputError
from clonr.ingest.documents import Document, Part

if TYPE_CHECKING:
    import requests

__all__ = ["fetch_transcript", "is_youtube", "video_id"]

_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_HOSTS = ("youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com", "youtu.be", "www.youtu.be")


def is_youtube(reference: str) -> bool:
    reference = reference.strip()
    try:
        return reference.startswith("youtube:") or urlsplit(reference).netloc.lower() in _HOSTS
    except ValueError:  # not a URL at all (`http://[::1`): not YouTube's either
        return False


def video_id(reference: str) -> str:
    """The 11-character id from `youtube:ID`, a bare id, or any common YouTube URL form."""
    reference = reference.strip().removeprefix("youtube:")
    if _ID.match(reference):
        return reference
    try:
        parts = urlsplit(reference)
    except ValueError:  # not a URL (`http://[::1`): no candidates, so the error below
        parts = urlsplit("")
    candidates = parse_qs(parts.query).get("v", [])
    if parts.netloc.lower().endswith("youtu.be"):
        candidates.append(parts.path.strip("/"))
    path = parts.path.strip("/").split("/")
    if len(path) >= 2 and path[0] in ("shorts", "embed", "live", "v"):
        candidates.append(path[1])
    for candidate in candidates:
        if _ID.match(candidate):
            return candidate
    raise InvalidInputError(f"{reference[:80]!r} is not a YouTube video: give a link such as "
                            "https://www.youtube.com/watch?v=… or youtube:<11-character id>.")


def fetch_transcript(reference: str, languages: list[str], session: requests.Session | None = None) -> Document:
    """The video's transcript in the first of `languages` it has (a creator's own captions before automatic ones).
    `session`: the requests session to fetch with (`SafeFetcher.requests_session`, guarded against private
    addresses)."""
    from youtube_transcript_api import (
        CouldNotRetrieveTranscript,
        NoTranscriptFound,
        TranscriptsDisabled,
        VideoUnavailable,
        YouTubeTranscriptApi,
    )

    vid = video_id(reference)
    url = f"https://www.youtube.com/watch?v={vid}"
    try:
        available = YouTubeTranscriptApi(http_client=session).list(vid)
        try:
            transcript = available.find_transcript(languages)
        except NoTranscriptFound:
            codes = sorted({t.language_code for t in available})
            raise InvalidInputError(f"{url} has no transcript in {', '.join(languages)}; it has "
                                    f"{', '.join(codes) or 'none'}: choose one with --lang.") from None
        fetched = transcript.fetch()
    except TranscriptsDisabled:
        raise InvalidInputError(f"{url} has no transcript (captions are turned off for it): pick another video.") \
            from None
    except VideoUnavailable:
        raise InvalidInputError(f"{url} is unavailable (private, removed or a wrong id): check the link.") from None
    except CouldNotRetrieveTranscript as exc:
        reason = str(exc).strip().splitlines()
        cause = next((line for line in reason if "cause" in line.lower() or "blocking" in line.lower()), "")
        raise InvalidInputError(f"{url}: YouTube refused the transcript ({type(exc).__name__}{': ' if cause else ''}"
                                f"{cause.strip()[:120]}): try again later.") from None
    parts = tuple(Part(snippet.text.replace("\n", " ").strip(), at=_clock(snippet.start))
                  for snippet in fetched.snippets if snippet.text.strip())
    kind = "automatic captions" if fetched.is_generated else "captions"
    return Document("youtube", f"YouTube {vid} ({fetched.language}, {kind})", parts=parts, location=url)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
