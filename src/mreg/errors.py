"""One exception class per exit code of SPEC §8; the CLI maps them to exit codes in one place."""

from __future__ import annotations


class MregError(Exception):
    """An expected failure: a message that says what and where, a hint for the next step."""

    exit_code = 70
    code = "internal"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class CheckFailedError(MregError):
    exit_code = 1
    code = "check_failed"


class UsageError(MregError):
    exit_code = 2
    code = "bad_input"


class NotFoundError(MregError):
    exit_code = 3
    code = "not_found"


class ConflictError(MregError):
    exit_code = 4
    code = "conflict"


class IntegrityError(MregError):
    exit_code = 5
    code = "integrity"


class RemoteError(MregError):
    exit_code = 6
    code = "unreachable"


class InternalError(MregError):
    exit_code = 70
    code = "internal"
