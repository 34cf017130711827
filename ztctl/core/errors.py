"""The failures ztctl knows, each mapped to one exit code of the contract (§2).

Every error carries a one-sentence ``message`` (what went wrong, with the object it
concerns) and a ``fix`` (what the user should do). The CLI renders them as text or, under
``--json``, as ``{"schemaVersion": 1, "error": {...}}``. Nothing here imports click or rich.
"""

from __future__ import annotations

from typing import ClassVar

# Exit codes of the contract, §2.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INVALID_INPUT = 3
EXIT_AUTH_NEEDED = 4
EXIT_UNREACHABLE = 5
EXIT_INTERRUPTED = 130


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
        out: dict[str, object] = {
            "code": self.exit_code,
            "kind": self.kind,
            "message": self.message,
            "fix": self.fix,
        }
        if self.details:
            out["details"] = self.details
        return out


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
