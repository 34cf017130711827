"""The lab's "Cloudflare edge": trace, Access certs and identity, on loopback plain HTTP.

``start_edge(lab_dir)`` serves, from a background thread:

* ``GET /cdn-cgi/trace`` — ``key=value`` lines as the real edge writes them. ``warp=on`` only while
  the lab's WARP is registered and connected in a mode that tunnels traffic (a request from
  the host does not go through proxy mode's SOCKS port, and DoH/DoT modes carry DNS only);
  ``gateway=on`` additionally needs a Zero Trust (team) registration and ``faults.gateway``.
  ``ip`` is a Cloudflare egress address through WARP and a documentation address otherwise;
  ``ts`` follows the server clock (with ``faults.clock_skew_s``).
* ``GET /cdn-cgi/access/certs`` — the JWKS of :func:`ztctl.lab.jwt.jwks`.
* ``GET /cdn-cgi/access/get-identity`` — needs ``Cookie: CF_Authorization=<token>`` (an app
  or org token of the lab); 401 ``{"err": ...}`` otherwise. Returns the identity with
  ``devicePosture``: one entry per posture rule of the lab's device profile
  (:data:`POSTURE_RULES`), keyed by rule id, each ``{"id", "rule_name", "type", "success",
  "schedule", "timestamp", "description", "input", "check"}``. A rule fails when its type or
  name is listed in ``faults.posture_fail``; ``warp`` and ``gateway`` rules also fail while
  WARP / Gateway is off, so the lab stays consistent with itself.

Every response carries a ``Date`` header from the server clock: real time shifted by
``faults.clock_skew_s`` (what ``doctor``'s ``device.clock`` check compares with).

The state is re-read on every request, so ``ztctl lab set`` applies at once.

:func:`verify_access_jwt` (from :mod:`ztctl.lab.jwt`) is re-exported here for the lab's API
server, which accepts Access tokens as bearer tokens.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ztctl.lab import jwt as labjwt
from ztctl.lab import state as labstate
from ztctl.lab.jwt import verify_access_jwt

__all__ = ["POSTURE_RULES", "Edge", "start_edge", "verify_access_jwt"]

# Modes in which traffic from the host itself goes through the WARP tunnel.
TUNNEL_MODES = frozenset({"warp", "warp+doh", "warp+dot", "tunnel_only"})
WARP_EGRESS_IP = "104.28.196.2"  # a Cloudflare WARP egress address (from a real trace)
DIRECT_IP = "198.51.100.23"  # the "home ISP" address (RFC 5737 documentation range)

# The lab team's device posture rules: (type, rule name, input), named like Cloudflare's
# device posture check types.
POSTURE_RULES: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("os_version", "OS version", {"operator": ">=", "version": "6.1.0"}),
    ("disk_encryption", "Disk encryption", {"requireAll": True}),
    ("firewall", "Firewall", {"enabled": True}),
    ("gateway", "Require Gateway", {}),
    ("warp", "Require WARP", {}),
)


def server_time(st: labstate.LabState) -> float:
    return time.time() + st.faults.clock_skew_s


def warp_on(st: labstate.LabState) -> bool:
    w = st.warp
    return w.daemon and w.registered and w.connected and w.mode in TUNNEL_MODES


def gateway_on(st: labstate.LabState) -> bool:
    return warp_on(st) and st.warp.team is not None and st.faults.gateway


def trace_text(st: labstate.LabState, *, host: str, user_agent: str) -> str:
    """The ``/cdn-cgi/trace`` body for the lab's current state."""
    warp = warp_on(st)
    fields = [
        ("fl", "29f1b7"),
        ("h", host),
        ("ip", WARP_EGRESS_IP if warp else DIRECT_IP),
        ("ts", f"{server_time(st):.3f}"),
        ("visit_scheme", "http"),
        ("uag", user_agent),
        ("colo", "LHR"),
        ("sliver", "none"),
        ("http", "http/1.1"),
        ("loc", st.access.country),
        ("tls", "off"),
        ("sni", "off"),
        ("warp", "on" if warp else "off"),
        ("gateway", "on" if gateway_on(st) else "off"),
        ("rbi", "off"),
        ("kex", "none"),
    ]
    return "".join(f"{k}={v}\n" for k, v in fields)


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def posture_results(st: labstate.LabState, now: float) -> dict[str, dict[str, Any]]:
    """``devicePosture`` for the lab device: empty when the device is not enrolled."""
    if not (st.warp.registered and st.warp.team):
        return {}
    failing = {_norm(name) for name in st.faults.posture_fail}
    stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    results: dict[str, dict[str, Any]] = {}
    for kind, name, rule_input in POSTURE_RULES:
        rule_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ztctl-lab-posture:{kind}"))
        ok = _norm(kind) not in failing and _norm(name) not in failing
        if kind == "warp":
            ok = ok and warp_on(st)
        elif kind == "gateway":
            ok = ok and gateway_on(st)
        results[rule_id] = {
            "id": rule_id,
            "rule_name": name,
            "type": kind,
            "success": ok,
            "schedule": "5m",
            "timestamp": stamp,
            "description": "",
            "input": rule_input,
            "check": dict(rule_input),
        }
    return results


def identity_document(
    st: labstate.LabState, claims: dict[str, Any], *, client_ip: str, now: float
) -> dict[str, Any]:
    user = st.access
    device = st.warp.device_id if st.warp.registered else ""
    return {
        "id": user.user_uuid,
        "name": user.name,
        "email": user.email,
        "amr": ["pwd"],
        "idp": {"id": user.idp_id, "type": user.idp_type},
        "geo": {"country": user.country},
        "user_uuid": user.user_uuid,
        "account_id": st.warp.account_id,
        "iat": claims.get("iat"),
        "ip": WARP_EGRESS_IP if warp_on(st) else client_ip,
        "is_warp": warp_on(st),
        "is_gateway": gateway_on(st),
        "gateway_account_id": st.warp.account_id if gateway_on(st) else "",
        "device_id": device,
        "device_sessions": {device: {"last_authenticated": claims.get("iat")}} if device else {},
        "devicePosture": posture_results(st, now),
        "version": 2,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _EdgeServer
    protocol_version = "HTTP/1.1"
    server_version = "cloudflare"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the lab runs in the background and in tests

    def date_time_string(self, timestamp: float | None = None) -> str:
        st = self.server.current_state()
        return email.utils.formatdate(server_time(st), usegmt=True)

    def _send(self, code: int, body: bytes, content_type: str, *, head: bool = False) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, code: int, doc: Any, *, head: bool = False) -> None:
        body = json.dumps(doc).encode("utf-8")
        self._send(code, body, "application/json", head=head)

    def _token(self) -> str | None:
        raw = self.headers.get("Cookie")
        if not raw:
            return None
        try:
            cookie = SimpleCookie(raw)
        except CookieError:
            return None
        morsel = cookie.get("CF_Authorization")
        return morsel.value if morsel else None

    def _route(self, head: bool) -> None:
        path = self.path.split("?", 1)[0]
        lab_dir = self.server.lab_dir
        st = self.server.current_state()
        if path == "/cdn-cgi/trace":
            body = trace_text(
                st,
                host=self.headers.get("Host", "127.0.0.1"),
                user_agent=self.headers.get("User-Agent", ""),
            ).encode("utf-8")
            self._send(200, body, "text/plain", head=head)
        elif path == "/cdn-cgi/access/certs":
            self._json(200, labjwt.jwks(lab_dir), head=head)
        elif path == "/cdn-cgi/access/get-identity":
            token = self._token()
            claims = (
                labjwt.verify_access_jwt(lab_dir, token, kinds=("app", "org")) if token else None
            )
            if claims is None:
                self._json(401, {"err": "no valid CF_Authorization cookie"}, head=head)
                return
            doc = identity_document(
                st, claims, client_ip=self.client_address[0], now=server_time(st)
            )
            self._json(200, doc, head=head)
        else:
            self._send(404, b"not found\n", "text/plain", head=head)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)


class _EdgeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], lab_dir: Path) -> None:
        self.lab_dir = lab_dir
        super().__init__(address, _Handler)

    def current_state(self) -> labstate.LabState:
        return labstate.load(self.lab_dir)


class Edge:
    """A running edge server; :meth:`stop` shuts it down and closes the socket."""

    def __init__(self, server: _EdgeServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def trace_url(self) -> str:
        return f"{self.url}/cdn-cgi/trace"

    @property
    def certs_url(self) -> str:
        return f"{self.url}/cdn-cgi/access/certs"

    @property
    def identity_url(self) -> str:
        return f"{self.url}/cdn-cgi/access/get-identity"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_edge(lab_dir: Path, host: str = "127.0.0.1", port: int = 0) -> Edge:
    """Serve the edge endpoints for ``lab_dir`` on ``host:port`` (loopback only)."""
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        raise ValueError(f"the lab edge listens on loopback only, not {host}")
    labjwt.ensure_signing_key(lab_dir)  # create the key before the first request races
    server = _EdgeServer((host, port), lab_dir)
    thread = threading.Thread(target=server.serve_forever, name="lab-edge", daemon=True)
    thread.start()
    return Edge(server, thread)
