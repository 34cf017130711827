"""The failures ztctl knows, each mapped to one exit code of docs/exit-codes.md.

What a probe or a doctor check *finds* (a :class:`~ztctl.problems.Problem`, a value) lives
in :mod:`ztctl.problems`; this module is on every command's start-up path and stays small.

Every error carries a one-sentence ``message`` (what went wrong, with the object it
concerns) and a ``fix`` (what the user should do). The CLI renders them as text or, under
``--json``, as ``{"schemaVersion": 1, "error": {...}}``. Nothing here imports click or rich.
"""

from __future__ import annotations

from typing import Any, ClassVar

# Exit codes (docs/exit-codes.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_AUTH_NEEDED = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130


def failure_dict(
    code: int,
    kind: str,
    message: str,
    fix: str,
    *,
    phase: str | None = None,
    details: list[str] | None = None,
) -> dict[str, Any]:
    """The one JSON shape of a failure (an error's or a Problem's): code, kind, [phase,]
    message, fix[, details]."""
    out: dict[str, Any] = {"code": code, "kind": str(kind)}
    if phase is not None:
        out["phase"] = str(phase)
    out["message"] = message
    out["fix"] = fix
    if details:
        out["details"] = list(details)
    return out


class ZtctlError(Exception):
    """Base of every error ztctl reports to a user."""

    exit_code: ClassVar[int] = EXIT_FAILED
    kind: ClassVar[str] = "failed"

    def __init__(self, message: str, fix: str = "", *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        # Further lines (e.g. every problem of a catalog), shown below the message.
        self.details = list(details or [])

    def to_dict(self) -> dict[str, object]:
        return failure_dict(self.exit_code, self.kind, self.message, self.fix, details=self.details)


class OperationFailed(ZtctlError):
    exit_code = EXIT_FAILED
    kind = "failed"


class UsageError(ZtctlError):
    exit_code = EXIT_USAGE
    kind = "usage"


class InvalidInput(ZtctlError):
    """Config, catalog, kubeconfig or certificate unreadable or malformed; nothing was written."""

    exit_code = EXIT_INVALID_INPUT
    kind = "invalid-input"


class AuthNeeded(ZtctlError):
    """Not enrolled, token missing or expired, keyring unusable."""

    exit_code = EXIT_AUTH_NEEDED
    kind = "auth-needed"


class Unreachable(ZtctlError):
    """The API server did not answer on the requested route."""

    exit_code = EXIT_UNREACHABLE
    kind = "unreachable"


class Interrupted(ZtctlError):
    exit_code = EXIT_INTERRUPTED
    kind = "interrupted"


# The one path from an exit code (a Problem's) to the error that leaves ztctl with it.
_ERRORS_BY_EXIT: dict[int, type[ZtctlError]] = {
    EXIT_INVALID_INPUT: InvalidInput,
    EXIT_AUTH_NEEDED: AuthNeeded,
    EXIT_UNREACHABLE: Unreachable,
}


def error_for(code: int, message: str, fix: str) -> ZtctlError:
    """The error that leaves ztctl with exit ``code`` (3, 4 or 5; anything else: 1)."""
    return _ERRORS_BY_EXIT.get(code, OperationFailed)(message, fix)
