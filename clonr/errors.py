"""The errors a user may see. Each message is one line: what went wrong and what to do.

Surfaces show a `ClonrError` as it is (exit code 1 in the CLI); any other exception is a bug.
"""

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def one_line(text: str) -> str:
    """`text` with its control characters (a newline in a file name, say) shown escaped."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


class ClonrError(Exception):
    """Base of every error whose message is meant for the user. Control characters in it (a file name with a
    newline, say) are shown escaped, so the message stays one line."""

    def __init__(self, message: str = "", *args: object) -> None:
        super().__init__(one_line(str(message)), *args)


class ConfigError(ClonrError):
    """A setting is missing or malformed."""


class NotFoundError(ClonrError):
    """A clone (or another record) named by the user does not exist."""


class AlreadyExistsError(ClonrError):
    """A record with the same unique name already exists."""


class InvalidInputError(ClonrError):
    """A message, file or field the user gave cannot be used."""


class StorageError(ClonrError):
    """The database, the vector index or CLONR_HOME cannot be used."""


class ModelError(ClonrError):
    """A model is missing, corrupt or failed while answering."""


class ForbiddenError(ClonrError):
    """The actor may not do this with this clone's data (`clonr.access.policy`)."""


class RateLimitedError(ClonrError):
    """Too many messages from one fan or address; `retry_after` says in how many seconds to try again."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SignInError(ClonrError):
    """A sign-in token was refused, or sign-in is not set up."""


class ConflictError(ClonrError):
    """The work asked for is still being done elsewhere (a request with the same Idempotency-Key, an ingestion job
    another live process runs): wait, then retry. A queued task that raises it is tried again later."""


class IdempotencyKeyReusedError(ClonrError):
    """An Idempotency-Key already named another request."""


class PaymentRequiredError(ClonrError):
    """The fan's (or API key owner's) free messages are used and nothing pays for the next: `offers` are what
    they can buy (`clonr.billing.Offer`)."""

    def __init__(self, message: str, offers: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.offers = offers


class PaymentError(ClonrError):
    """The payment provider (Stripe) is not set up, refused a request or could not be reached."""
