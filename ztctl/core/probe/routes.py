"""The routes to an API server: Zero Trust (direct, or through kubectl's proxy choice) and
break-glass (a proxy, an open session's local SOCKS proxy, or an open VPN)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ztctl.core.probe.target import Target

ROUTES = ("auto", "zero-trust", "break-glass")


@dataclass(frozen=True)
class RoutePath:
    """How to get bytes to the API server on one route."""

    route: str  # zero-trust | break-glass
    proxy: str | None = None  # proxy URL (may carry credentials: never display as is)
    label: str = "over WARP"  # for messages: "over WARP", "through socks5://127.0.0.2:1080"
    available: bool = True
    reason: str = ""  # why not available
    fix: str = ""

    @property
    def proxy_display(self) -> str | None:
        if not self.proxy:
            return None
        from ztctl.adapters import socks

        return socks.redact_url(self.proxy)


def zero_trust_path(target: Target, env: Mapping[str, str] | None = None) -> RoutePath:
    """The direct route, with kubectl's proxy choice (``proxy-url``, else the environment)."""
    environ = os.environ if env is None else env
    if target.proxy_url is None and not (environ.get("HTTPS_PROXY") or environ.get("https_proxy")):
        return RoutePath("zero-trust")  # the common case: no proxy adapter to import
    from ztctl.adapters import socks

    proxy = target.proxy_url or socks.proxy_from_environment(target.host, target.port, environ)
    if not proxy:
        return RoutePath("zero-trust")
    return RoutePath("zero-trust", proxy=proxy, label=f"through {socks.redact_url(proxy)}")


def break_glass_path(
    target: Target, session_proxy: str | None = None, *, session_open: bool = False
) -> RoutePath:
    """The out-of-band route: an open session's local proxy (``ssh -D``), the catalog's
    proxy, or — for an open VPN session (``session_open``) — the OS route through it."""
    from ztctl.adapters import socks

    if session_proxy:
        return RoutePath(
            "break-glass", proxy=session_proxy, label=f"through {socks.redact_url(session_proxy)}"
        )
    bg = target.break_glass
    start = f"ztctl break-glass start {target.name} --reason '...'"
    if bg is None:
        return RoutePath(
            "break-glass",
            available=False,
            reason=f"cluster {target.name} has no break-glass route in the catalog",
            fix="ask the platform team to add breakGlass to the catalog entry",
        )
    kind = getattr(bg.route, "kind", "")
    if kind == "proxy":
        url = bg.route.url  # type: ignore[union-attr]
        return RoutePath("break-glass", proxy=url, label=f"through {socks.redact_url(url)}")
    if kind == "vpn" and session_open:
        interface = getattr(bg.route, "interface", "")
        return RoutePath("break-glass", label=f"over the break-glass VPN ({interface})")
    return RoutePath(
        "break-glass",
        available=False,
        reason=f"the {kind} break-glass route of {target.name} is not open",
        fix=f"open it with `{start}`",
    )
