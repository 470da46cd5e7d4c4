"""The hub's errors: each carries the `extensions.code` a caller sees (DESIGN §7).

Messages are written for the caller. Internal details (SQL, connection strings,
tracebacks) never go into them: they go to the log under the request id.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HubError(Exception):
    code: ClassVar[str] = "INTERNAL"
    status: ClassVar[int] = 200  # HTTP status when the error ends the whole request

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadUserInput(HubError):
    code = "BAD_USER_INPUT"
    status = 400


class QueryTooComplex(HubError):
    code = "QUERY_TOO_COMPLEX"
    status = 400


class Unauthenticated(HubError):
    code = "UNAUTHENTICATED"
    status = 401


class Forbidden(HubError):
    code = "FORBIDDEN"


class PurposeRequired(HubError):
    code = "PURPOSE_REQUIRED"


class AuditUnavailable(HubError):
    code = "AUDIT_UNAVAILABLE"
    status = 503


class SourceUnavailable(HubError):
    code = "SOURCE_UNAVAILABLE"


class SourceTimeout(HubError):
    code = "SOURCE_TIMEOUT"


class Internal(HubError):
    """The hub's own fault. `detail` is for the log (with the request id), never the caller."""

    code = "INTERNAL"
    status = 500

    def __init__(self, message: str, detail: str = "", **extensions: Any) -> None:
        super().__init__(message, **extensions)
        self.detail = detail
