"""The hub's errors.

`HubError` and its subclasses end a field or a request: each carries the
`extensions.code` a caller sees. Messages are written for the caller; internal
details (SQL, connection strings, tracebacks) never go into them but to the log under
the request id. `StoreUnavailable` and `AuditWriteFailed` come from below the request
path; hub/http/app.py answers them as `AUDIT_UNAVAILABLE`. `CatalogError` and `PolicyError`
refuse a configuration at start and in `hub check`, each listing every problem found.
All of the hub's exceptions live here; an adapter's own (`SourceError`) are part of the
adapter contract in adapters/base.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar


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


class MatchLimit(HubError):
    """A record's field has used its guess budget: the distinct values compared for one
    key and field within the dataset's window (catalog `match_guesses`)."""

    code = "MATCH_LIMIT"


class QuotaExceeded(HubError):
    """The caller's daily match quota would be passed: the whole request is refused with
    HTTP 429 and `Retry-After` (seconds until the quota renews, at 00:00 UTC)."""

    code = "QUOTA_EXCEEDED"
    status = 429

    def __init__(self, message: str, retry_after: int, **extensions: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **extensions)
        self.retry_after = retry_after


class RateLimited(HubError):
    """More requests than the rate limit allows (hub/http/ratelimit.py): HTTP 429 with
    `Retry-After`, the seconds until the budget's window renews."""

    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, retry_after: int, **extensions: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **extensions)
        self.retry_after = retry_after


class Internal(HubError):
    """The hub's own fault. `detail` is for the log (with the request id), never the caller."""

    code = "INTERNAL"
    status = 500

    def __init__(self, message: str, detail: str = "", **extensions: Any) -> None:
        super().__init__(message, **extensions)
        self.detail = detail


# --- the HTTP front door (hub/http/graphql_http.py): the request itself is refused ---


class BodyTooLarge(HubError):
    code = "BAD_USER_INPUT"
    status = 413


class UnsupportedMediaType(HubError):
    code = "BAD_USER_INPUT"
    status = 415


class NotAcceptable(HubError):
    code = "BAD_USER_INPUT"
    status = 406


class MethodNotAllowed(HubError):
    code = "BAD_USER_INPUT"
    status = 405


class NotFound(BadUserInput):
    """A route's resource that does not exist, or that the caller may see nothing of."""

    status = 404


# --- the store and the audit log, below the request path ---


class StoreUnavailable(Exception):
    """The store could not be asked (the message names the error class, no values)."""


class AuditWriteFailed(Exception):
    """The record could not be committed."""


# --- configuration: the catalog and the policy, checked at start and by `hub check` ---


P = TypeVar("P")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration file: the file, the dotted path inside it, what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path or '(top)'}: {self.message}"


@dataclass(frozen=True)
class PolicyProblem:
    """One bad line of `policy.csv`."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception, Generic[P]):
    """A configuration that cannot be loaded; `problems` lists every reason."""

    def __init__(self, problems: list[P]) -> None:
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class CatalogError(ConfigError[Problem]):
    """The catalog cannot be loaded."""


class PolicyError(ConfigError[PolicyProblem]):
    """The policy cannot be loaded."""
