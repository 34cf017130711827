"""``net.trace``: what Cloudflare's edge says about this device's traffic (``warp=``,
``gateway=`` of ``/cdn-cgi/trace``), and the fetch it shares with
``device.clock`` (the edge's ``Date`` header).

The fetch (:mod:`ztctl.adapters.httpget`) verifies certificates, sends one request, takes
no proxies from the environment (ztctl diagnoses the path WARP gives the laptop) and keeps a
timeout. Plain ``http`` is accepted only for a loopback URL (the lab's edge).
"""

from __future__ import annotations

import email.utils
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ztctl import __version__
from ztctl.core.doctor.runner import Check, Outcome, failed, passed, warned

if TYPE_CHECKING:
    from ztctl.core.doctor.context import DoctorContext

TITLE = "Cloudflare sees WARP and Gateway"
USER_AGENT = f"ztctl/{__version__} (doctor)"


class FetchError(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


@dataclass(frozen=True)
class Fetched:
    url: str
    status: int
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)
    sent: float = 0.0  # time.time() when the request was sent
    received: float = 0.0  # time.time() when the response headers arrived

    @property
    def server_date(self) -> float | None:
        raw = self.headers.get("date")
        if not raw:
            return None
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None or parsed.tzinfo is None:
            return None
        return parsed.timestamp()


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_url(url: str, what: str, setting: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path+query) of an https URL, or an http URL on loopback."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "http://[::1": the config refuses it; the environment too
        raise FetchError(
            f"the {what} URL {url!r} is malformed: {exc}", f"fix {setting} in the config file"
        ) from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise FetchError(
            f"the {what} URL {url!r} is not an https URL",
            f"fix {setting} in the config file",
        )
    if parts.scheme == "http" and not is_loopback_host(host):
        raise FetchError(
            f"refusing to fetch the {what} over plain http from {host}",
            f"use an https URL for {setting}",
        )
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"the {what} URL {url!r} has a bad port", f"fix {setting}") from None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port, path


def fetch(
    url: str,
    *,
    timeout: float,
    what: str = "trace",
    setting: str = "warp.trace_url (ZTCTL_TRACE_URL)",
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """One GET; raises :class:`FetchError` with a sentence and a fix on any failure."""
    from ztctl.adapters.httpget import GetFailed, get

    scheme, host, port, path = validate_url(url, what, setting)
    request_headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **(headers or {})}
    try:
        response = get(scheme, host, port, path, headers=request_headers, timeout=timeout)
    except GetFailed as exc:
        if exc.kind == "untrusted":
            raise FetchError(
                f"the certificate of {host} does not verify ({exc.reason}) — TLS "
                "inspection without the Gateway root certificate installed?",
                "install the Zero Trust root certificate on this device, or check the network",
            ) from None
        if exc.kind == "timeout":
            raise FetchError(
                f"no answer from {host}:{port} within {timeout:g}s ({url})",
                "check the network connection; `warp-cli status` and `cluster.route` show "
                "where packets go",
            ) from None
        raise FetchError(
            f"cannot fetch {url}: {exc.reason}",
            "check the network connection (and that WARP is connected)",
        ) from None
    return Fetched(
        url=url,
        status=response.status,
        body=response.body.decode("utf-8", "replace"),
        headers=response.headers,
        sent=response.sent,
        received=response.received,
    )


def parse_trace(text: str) -> dict[str, str]:
    """``key=value`` lines of ``/cdn-cgi/trace``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and key.replace("_", "").isalnum():
            values.setdefault(key, value.strip())
    return values


def trace_fact(ctx: DoctorContext) -> Fetched:
    return ctx.facts.get(
        "net.trace", lambda: fetch(ctx.warp.trace_url, timeout=ctx.io_timeout, what="trace")
    )


def checks(ctx: DoctorContext) -> list[Check]:
    return [Check("net.trace", TITLE, lambda: check_trace(ctx))]


def check_trace(ctx: DoctorContext) -> Outcome:
    url = ctx.warp.trace_url
    try:
        fetched = trace_fact(ctx)
    except FetchError as exc:
        return failed(exc.message, exc.fix, {"url": url})
    if fetched.status != 200:
        return failed(
            f"{url} answered HTTP {fetched.status}, not the trace",
            "check warp.trace_url in the config file (default: "
            "https://www.cloudflare.com/cdn-cgi/trace)",
            {"url": url, "httpStatus": fetched.status},
        )
    trace = parse_trace(fetched.body)
    keep = ("warp", "gateway", "colo", "loc", "ip", "http", "tls", "rbi")
    data: dict[str, Any] = {"url": url, **{k: trace[k] for k in keep if k in trace}}
    warp = trace.get("warp")
    gateway = trace.get("gateway")
    if warp is None or gateway is None:
        return warned(
            f"{url} did not answer with warp= and gateway= lines",
            "point warp.trace_url at a Cloudflare /cdn-cgi/trace URL",
            data,
        )
    if warp not in ("on", "plus"):
        return failed(
            f"Cloudflare sees this device's traffic without WARP (warp={warp}, gateway={gateway})",
            "connect WARP (`warp-cli connect`, or `ztctl login`); warp.connected and warp.mode "
            "say what is wrong",
            data,
        )
    if gateway != "on":
        return failed(
            f"traffic goes through WARP but not through Gateway (warp={warp}, gateway={gateway}): "
            "Zero Trust network policies and private routes do not apply",
            "the device must be enrolled in the team (warp.registration) and in a mode that "
            "routes traffic (warp.mode); if both pass, ask the Zero Trust admins to turn on the "
            "Gateway proxy for TCP and UDP (Settings > Network > Proxy)",
            data,
        )
    colo = f", colo {trace['colo']}" if "colo" in trace else ""
    return passed(f"warp={warp}, gateway={gateway}{colo}", data)
