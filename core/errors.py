"""Domain errors: the only failures a client is meant to understand.

Each carries a code from SPEC.md; the schema's error extension turns them into GraphQL errors with
`extensions.code` and masks anything else as INTERNAL_SERVER_ERROR.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    AI_UNAVAILABLE = "AI_UNAVAILABLE"
    BILLING_UNAVAILABLE = "BILLING_UNAVAILABLE"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    # Transport-level refusals, before there is an operation: a malformed request, a body too large.
    BAD_REQUEST = "BAD_REQUEST"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


class DomainError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, field: str | None = None, extra: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}

    @property
    def extensions(self) -> dict[str, object]:
        extensions: dict[str, object] = {"code": self.code.value, **self.extra}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "Authentication required") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN

    def __init__(self, message: str = "You are not allowed to do this") -> None:
        super().__init__(message)


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class BadInput(DomainError):
    code = ErrorCode.BAD_USER_INPUT


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class RateLimited(DomainError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(
            "Too many attempts, try again later", extra={"retryAfterSeconds": retry_after_seconds}
        )


class PaymentRequired(DomainError):
    code = ErrorCode.PAYMENT_REQUIRED


class AiUnavailable(DomainError):
    code = ErrorCode.AI_UNAVAILABLE


class BillingUnavailable(DomainError):
    code = ErrorCode.BILLING_UNAVAILABLE
