"""What a probe or a doctor check finds: a :class:`Problem` with a :class:`FailureKind` and a
:class:`Phase`. Kinds and phases are enums whose members are their plain words, so the JSON
(``"kind": "tls-inspection"``) stays the contract's. A Problem is a value; :meth:`Problem.error`
turns it into the :class:`~ztctl.errors.ZtctlError` that ends a command with its code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from ztctl.errors import failure_dict

if TYPE_CHECKING:
    from ztctl.errors import ZtctlError


class _Text(str, Enum):
    """A closed set of words that prints, formats and serialises as its value (a StrEnum
    that works on Python 3.10 too): JSON output stays the plain string."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class FailureKind(_Text):
    """What went wrong, as the ``kind`` of a probe or doctor :class:`Problem`."""

    NO_ROUTE = "no-route"
    DNS = "dns"
    PROXY = "proxy"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"
    RESET = "reset"
    PROTOCOL = "protocol"
    TLS_FAILED = "tls-failed"
    TLS_INSPECTION = "tls-inspection"
    TLS_HOSTNAME = "tls-hostname"
    TLS_EXPIRED = "tls-expired"
    TLS_UNTRUSTED = "tls-untrusted"
    CLIENT_CERTIFICATE_REJECTED = "client-certificate-rejected"
    CREDENTIALS = "credentials"
    INVALID_CA = "invalid-ca"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    NOT_READY = "not-ready"
    FAILED = "failed"


class Phase(_Text):
    """Where on the path a :class:`Problem` happened (``NONE``: not tied to one phase)."""

    NONE = ""
    ROUTE = "route"
    CREDENTIALS = "credentials"
    DNS = "dns"
    CONNECT = "connect"
    PROXY = "proxy"
    TLS = "tls"
    HTTP = "http"


# The path itself failed (no answer, or the connection dropped): the route is at fault.
PATH_KINDS = frozenset({FailureKind.TIMEOUT, FailureKind.UNREACHABLE, FailureKind.RESET})
# The API server answered, just not with "ready" or "allowed": the path works.
ANSWERED_KINDS = frozenset({FailureKind.NOT_READY, FailureKind.FORBIDDEN})
# The server did not accept the credential.
REJECTED_KINDS = frozenset({FailureKind.UNAUTHENTICATED, FailureKind.CLIENT_CERTIFICATE_REJECTED})


@dataclass(frozen=True)
class Problem:
    """A finding of a probe or a doctor check: a kind, one sentence, the fix, the exit code
    and the phase it happened in. A result, not an exception: see :meth:`error` to raise it."""

    kind: FailureKind
    message: str
    fix: str
    exit_code: int
    phase: Phase = Phase.NONE

    def to_dict(self) -> dict[str, Any]:
        return failure_dict(self.exit_code, self.kind, self.message, self.fix, phase=self.phase)

    def error(self) -> ZtctlError:
        """This finding as the error of its exit code (to end a command with it)."""
        from ztctl.errors import error_for

        return error_for(self.exit_code, self.message, self.fix)
