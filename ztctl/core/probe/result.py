"""What a probe found: timings, DNS and certificate facts, samples and the
:class:`ProbeResult` (its JSON is the contract's ``ztctl probe --json``). Values compare by
value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ztctl.errors import EXIT_OK
from ztctl.problems import Problem

# --------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timings:
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    total_ms: float | None = None  # DNS start to the end of the /readyz response
    proxy_ms: float | None = None  # proxy handshake (break-glass / proxy-url)
    credential_ms: float | None = None  # exec plugin run (before DNS; not in total)

    def to_dict(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {
            "dnsMs": _r(self.dns_ms),
            "connectMs": _r(self.connect_ms),
            "tlsMs": _r(self.tls_ms),
            "firstByteMs": _r(self.first_byte_ms),
            "totalMs": _r(self.total_ms),
        }
        if self.proxy_ms is not None:
            out["proxyMs"] = _r(self.proxy_ms)
        if self.credential_ms is not None:
            out["credentialMs"] = _r(self.credential_ms)
        return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True)
class CertificateInfo:
    issuer: str | None
    not_after: str | None  # RFC 3339
    subject: str | None = None
    verified: bool = False
    inspected_by: str | None = None  # Gateway CA name when TLS inspection was detected

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "issuer": self.issuer,
            "notAfter": self.not_after,
            "subject": self.subject,
            "verified": self.verified,
        }
        if self.inspected_by:
            out["inspectedBy"] = self.inspected_by
        return out


@dataclass(frozen=True)
class SampleStats:
    count: int
    lost: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    min_ms: float | None = None

    @classmethod
    def of(cls, values: Sequence[float], lost: int) -> SampleStats:
        ordered = sorted(values)
        return cls(
            count=len(values) + lost,
            lost=lost,
            p50_ms=percentile(ordered, 50),
            p90_ms=percentile(ordered, 90),
            p99_ms=percentile(ordered, 99),
            max_ms=ordered[-1] if ordered else None,
            min_ms=ordered[0] if ordered else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "lost": self.lost,
            "p50Ms": _r(self.p50_ms),
            "p90Ms": _r(self.p90_ms),
            "p99Ms": _r(self.p99_ms),
            "maxMs": _r(self.max_ms),
            "minMs": _r(self.min_ms),
        }


def percentile(ordered: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Samples:
    """``--count``: N requests on the kept-alive connection, then N full fresh-connection probes.

    The contract's top-level figures are the kept-alive ones (the per-request cost kubectl
    pays once connected); ``fresh`` adds DNS, TCP and TLS each time.
    """

    keep_alive: SampleStats
    fresh: SampleStats
    interval_s: float
    reconnects: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = self.keep_alive.to_dict()
        out["intervalS"] = self.interval_s
        out["reconnects"] = self.reconnects
        out["keepAlive"] = self.keep_alive.to_dict()
        out["fresh"] = self.fresh.to_dict()
        return out


@dataclass(frozen=True)
class SampleEvent:
    """One sample, for a live line: ``kind`` is keep-alive or fresh; ``ms`` None when lost."""

    index: int  # 1-based
    count: int
    kind: str
    ms: float | None
    error: str | None = None


@dataclass(frozen=True)
class DnsInfo:
    host: str
    addresses: tuple[str, ...] = ()
    error: str | None = None
    matches_catalog: bool | None = None  # None: no catalog addresses, or not resolved here

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "addresses": list(self.addresses),
            "error": self.error,
            "matchesCatalog": self.matches_catalog,
        }


@dataclass(frozen=True)
class ProbeResult:
    cluster: str
    route: str  # zero-trust | break-glass
    server: str
    address: str | None  # the IP (or name, through a proxy) actually dialled
    port: int
    address_in_catalog: bool | None
    timings: Timings
    dns: DnsInfo | None = None
    via: str | None = None  # proxy URL without credentials
    readyz: str | None = None  # the /readyz body ("ok"), None when not reached
    readyz_status: int | None = None
    version: str | None = None  # gitVersion
    user: str | None = None
    groups: tuple[str, ...] = ()
    certificate: CertificateInfo | None = None
    credential: str = "none"  # clientCertificate | token | exec | none
    problem: Problem | None = None
    warnings: tuple[str, ...] = ()
    samples: Samples | None = None
    break_glass: ProbeResult | None = None  # auto: the break-glass check after a failure
    break_glass_note: str | None = None  # auto: why break-glass was not probed

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.problem is None else self.problem.exit_code

    @property
    def reached(self) -> bool:
        """The API server answered HTTP on this route (even if not ready or 401)."""
        return self.readyz_status is not None

    def to_dict(self) -> dict[str, Any]:
        """docs/probe.md's document, plus extra keys."""
        out: dict[str, Any] = {
            "schemaVersion": 1,
            "cluster": self.cluster,
            "route": self.route,
            "ok": self.ok,
            "server": self.server,
            "address": self.address,
            "timings": self.timings.to_dict(),
            "readyz": self.readyz,
            "version": self.version,
            "user": self.user,
            "certificate": (
                self.certificate.to_dict()
                if self.certificate
                else {"issuer": None, "notAfter": None}
            ),
        }
        if self.samples is not None:
            out["samples"] = self.samples.to_dict()
        out["port"] = self.port
        out["addressInCatalog"] = self.address_in_catalog
        out["via"] = self.via
        out["dns"] = self.dns.to_dict() if self.dns else None
        out["readyzStatus"] = self.readyz_status
        out["groups"] = list(self.groups)
        out["credential"] = self.credential
        out["warnings"] = list(self.warnings)
        if self.problem is not None:
            out["error"] = self.problem.to_dict()
        if self.break_glass is not None:
            bg = self.break_glass.to_dict()
            bg.pop("schemaVersion", None)
            out["breakGlass"] = bg
        elif self.break_glass_note:
            out["breakGlass"] = {"ok": None, "note": self.break_glass_note}
        return out
