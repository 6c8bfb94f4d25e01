"""Domain errors: what services and selectors raise when they refuse, never HTTP exceptions.

`controlplane.error_handlers` is the one place that turns them into HTTP, for the API and for the console.
"""

from typing import ClassVar


class DomainError(Exception):
    """A refusal the user can act on; `field` names the input at fault (`entries[3].request.url`)."""

    code: ClassVar[str]

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    """Unknown, or not the user's to see (outsiders learn nothing more)."""

    code = "not_found"


class Forbidden(DomainError):
    """Visible to the user, but the action is not theirs to take (e.g. owner-only)."""

    code = "permission_denied"


class Invalid(DomainError):
    code = "invalid"


class Conflict(DomainError):
    code = "conflict"


class Gone(DomainError):
    code = "gone"


class TooLarge(DomainError):
    code = "too_large"
