"""The lab's stand-in of the Cloudflare API v4 (read-only endpoints), on loopback plain HTTP.

It follows the documented shapes: the envelope (``success``, ``errors``, ``messages``,
``result``, ``result_info``), page/per_page pagination (``result_info.count/page/per_page/
total_count``, ``per_page`` capped by the server) and cursor pagination (``cursor``, a
``null`` ``total_count``), the error codes (6003 with a 6111 chain for a malformed header,
1000 for an unknown token — and for an account-owned token on ``/user/tokens/verify`` —,
10000 for a missing permission, 7003 and 9109 for a wrong account) and 429 with
``Retry-After``. ``routes/ip/{ip}`` answers a miss as cloudflared reads it: 200 with the zero
tunnel id.

The account (:mod:`ztctl.lab.cfaccount`) is seeded from a catalog (the lab's
``DIR/catalog.yaml``, re-read when it changes): a private network route ``ADDRESS/32`` in the
named virtual network ``lab-net`` for every cluster address, one tunnel ``k8s-<cluster>`` per
route with 3 connectors of 4 edge connections each, this device's registration in the settings
profile ``Engineers`` (whose split tunnel is the lab WARP's own), Gateway with the TCP proxy on,
TLS decryption on in dynamic mode, and a Do Not Inspect rule for the cluster addresses. The
faults of :class:`ztctl.lab.state.CloudflareState` change it; the state is re-read for every
request.

:func:`~ztctl.lab.cfaccount.path_verdict` is the other half of the lab's consistency: the Zero
Trust path to the API server fails exactly when the account says it must (no route in the
device's virtual network, no connector, proxy off, device revoked), and TLS is intercepted when
Gateway would decrypt it."""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ztctl.lab import state as labstate
from ztctl.lab.cfaccount import (
    API_PREFIX,
    BLACKHOLE_S,
    RETRY_AFTER_S,
    TOKEN_FILE,
    VNET_DEFAULT,
    ZERO_UUID,
    Account,
    SeedCluster,
    make_id,
    read_catalog,
)

log = logging.getLogger("ztctl.lab.cfapi")

# -- the server --------------------------------------------------------------------------------


def _envelope(result: Any, info: dict[str, Any] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"errors": [], "messages": [], "success": True, "result": result}
    if info is not None:
        doc["result_info"] = info
    return doc


def _error(code: int, message: str, chain: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if chain:
        error["error_chain"] = chain
    return {"success": False, "errors": [error], "messages": [], "result": None}


class ApiFault(Exception):
    def __init__(self, status: int, document: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.document = document


_PERMISSION_OF = {
    "teamnet": "networks",
    "cfd_tunnel": "tunnels",
    "devices": "zero-trust",
    "gateway": "zero-trust",
}


class _Handler(BaseHTTPRequestHandler):
    server: CfApiServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("cfapi %s", format % args)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # a client that gave up: not our problem
            super().handle()

    def _send(self, status: int, body: bytes, *, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        st = self.server.current_state()
        cf = st.cloudflare
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.server.record(parts.path, query)
        if cf.api == "blackhole":
            self.server.hold(self)
            return
        if cf.latency_ms:
            time.sleep(cf.latency_ms / 1000.0)
        if cf.api == "down":
            self._send(503, b"<html><body>503 Service Temporarily Unavailable</body></html>")
            return
        if cf.api == "rate-limited" or (cf.api == "flaky" and self.server.first_time(parts.path)):
            doc = _error(971, "Please wait and consider throttling your request speed")
            self._send(
                429,
                json.dumps(doc).encode(),
                headers={"Retry-After": str(RETRY_AFTER_S), "x-ratelimit-remaining": "0"},
            )
            return
        if cf.api == "malformed":
            self._send(200, b"<html><body>upstream connect error</body></html>")
            return
        if cf.api == "unsuccessful":
            self._send(200, json.dumps(_error(10001, "service temporarily unavailable")).encode())
            return
        try:
            status, document = self._route(parts.path, query, st)
        except ApiFault as fault:
            status, document = fault.status, fault.document
        self._send(status, json.dumps(document).encode("utf-8"))

    # -- routing -------------------------------------------------------------------------

    def _authorize(self, st: labstate.LabState) -> str:
        """The token's kind, or an :class:`ApiFault`."""
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token or token != token.strip() or " " in token:
            raise ApiFault(
                400,
                _error(
                    6003,
                    "Invalid request headers",
                    [{"code": 6111, "message": "Invalid format for Authorization header"}],
                ),
            )
        if token != self.server.token() or st.cloudflare.token == "invalid":  # noqa: S105 - a kind
            raise ApiFault(400, _error(1000, "Invalid API Token"))
        return st.cloudflare.token

    def _route(
        self, path: str, query: dict[str, str], st: labstate.LabState
    ) -> tuple[int, dict[str, Any]]:
        if not path.startswith(API_PREFIX + "/"):
            return 404, _error(7000, "No route for that URI")
        segments = [s for s in path[len(API_PREFIX) :].split("/") if s]
        kind = self._authorize(st)
        if segments == ["user", "tokens", "verify"]:
            if kind in ("account", "other-account"):
                raise ApiFault(401, _error(1000, "Invalid API Token"))
            return 200, _verify_document(self.server.token_id)
        if len(segments) < 3 or segments[0] != "accounts":
            return 404, _error(7000, "No route for that URI")
        account = segments[1]
        if len(account) != 32 or any(c not in "0123456789abcdef" for c in account):
            return 404, _error(
                7003,
                f"Could not route to /client/v4/accounts/{account[:40]}, perhaps your object "
                "identifier is invalid?",
            )
        if account != self.server.account_id or kind == "other-account":
            return 403, _error(9109, "Unauthorized to access requested resource")
        rest = segments[2:]
        if rest == ["tokens", "verify"]:
            if kind == "user":
                raise ApiFault(401, _error(1000, "Invalid API Token"))
            return 200, _verify_document(self.server.token_id)
        needed = _PERMISSION_OF.get(rest[0])
        if needed is None:
            return 404, _error(7000, "No route for that URI")
        if needed in st.cloudflare.lacks:
            return 403, _error(10000, "Authentication error")
        return self._resource(rest, query, self.server.account(st))

    def _resource(
        self, rest: list[str], query: dict[str, str], acct: Account
    ) -> tuple[int, dict[str, Any]]:
        page_size = max(1, self.server.current_state().cloudflare.page_size)
        match rest:
            case ["teamnet", "virtual_networks"]:
                return 200, _page(acct.vnets(), query, page_size)
            case ["teamnet", "routes"]:
                routes = _filter_routes(acct.routes, query)
                return 200, _page(routes, query, page_size)
            case ["teamnet", "routes", "ip", ip]:
                return 200, _envelope(_route_for_ip(acct.routes, ip, query))
            case ["cfd_tunnel"]:
                return 200, _page(list(acct.tunnels.values()), query, page_size)
            case ["cfd_tunnel", tunnel_id]:
                if tunnel_id not in acct.tunnels:
                    return 404, _error(1003, "Tunnel not found")
                return 200, _envelope(acct.tunnels[tunnel_id])
            case ["cfd_tunnel", tunnel_id, "connections"]:
                if tunnel_id not in acct.tunnels:
                    return 404, _error(1003, "Tunnel not found")
                return 200, _envelope(acct.clients[tunnel_id])
            case ["devices", "registrations"]:
                rows = acct.registrations()
                device = query.get("device.id")
                if device:
                    rows = [r for r in rows if r["device"]["id"] == device]
                status = query.get("status", "active")
                if status == "active":
                    rows = [r for r in rows if not r["revoked_at"]]
                elif status == "revoked":
                    rows = [r for r in rows if r["revoked_at"]]
                return 200, _cursor_page(rows, query, page_size)
            case ["devices", "policy"]:
                return 200, _envelope(acct.profile(default=True))
            case ["devices", "policy", policy_id]:
                if policy_id != acct.st.warp.profile_id:
                    return 404, _error(2000, "Policy not found")
                return 200, _envelope(acct.profile(default=False))
            case ["devices", "settings"]:
                return 200, _envelope(
                    {
                        "gateway_proxy_enabled": acct.st.cloudflare.proxy,
                        "gateway_udp_proxy_enabled": acct.st.cloudflare.proxy,
                        "root_certificate_installation_enabled": True,
                        "use_zt_virtual_ip": False,
                        "disable_for_time": 0,
                        "external_emergency_signal_enabled": False,
                    }
                )
            case ["gateway", "configuration"]:
                return 200, _envelope(acct.gateway_configuration())
            case ["gateway", "rules"]:
                return 200, _envelope(acct.gateway_rules())
        return 404, _error(7000, "No route for that URI")


def _verify_document(token_id: str) -> dict[str, Any]:
    doc = _envelope({"id": token_id, "status": "active"})
    doc["messages"] = [
        {"code": 10000, "message": "This API Token is valid and active", "type": None}
    ]
    return doc


def _page(items: list[Any], query: dict[str, str], cap: int) -> dict[str, Any]:
    try:
        page = max(1, int(query.get("page", "1")))
        per_page = max(1, min(int(query.get("per_page", "20")), cap, 1000))
    except ValueError:
        raise ApiFault(400, _error(1001, "Invalid page or per_page")) from None
    chunk = items[(page - 1) * per_page : page * per_page]
    info = {"count": len(chunk), "page": page, "per_page": per_page, "total_count": len(items)}
    return _envelope(chunk, info)


def _cursor_page(items: list[Any], query: dict[str, str], cap: int) -> dict[str, Any]:
    try:
        start = int(query.get("cursor") or "0")
        per_page = max(1, min(int(query.get("per_page", "10")), cap))
    except ValueError:
        raise ApiFault(400, _error(1001, "Invalid cursor")) from None
    chunk = items[start : start + per_page]
    more = start + per_page < len(items)
    info = {
        "count": len(chunk),
        "cursor": str(start + per_page) if more else "",
        "per_page": per_page,
        "total_count": None,
    }
    return _envelope(chunk, info)


def _filter_routes(routes: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    out = routes
    superset = query.get("network_superset")
    if superset:
        try:
            wanted = ipaddress.ip_network(superset, strict=False)
        except ValueError:
            raise ApiFault(400, _error(1001, "Invalid network_superset")) from None
        out = [r for r in out if _contains(r["network"], wanted)]
    vnet = query.get("virtual_network_id")
    if vnet:
        out = [r for r in out if r["virtual_network_id"] == vnet]
    tunnel = query.get("tunnel_id")
    if tunnel:
        out = [r for r in out if r["tunnel_id"] == tunnel]
    return out


def _contains(network: str, wanted: Any) -> bool:
    net = ipaddress.ip_network(network, strict=False)
    return net.version == wanted.version and wanted.subnet_of(net)


def _route_for_ip(routes: list[dict[str, Any]], ip: str, query: dict[str, str]) -> dict[str, Any]:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        raise ApiFault(400, _error(1001, f"Invalid IP {ip[:50]}")) from None
    vnet = query.get("virtual_network_id") or make_id("vnet", VNET_DEFAULT)
    for route in routes:
        net = ipaddress.ip_network(route["network"], strict=False)
        if (
            route["virtual_network_id"] == vnet
            and net.version == address.version
            and address in net
        ):
            return route
    # No match: the zero route, as cloudflared's `tunnel route ip get` reads it.
    return {
        "id": ZERO_UUID,
        "network": "",
        "tunnel_id": ZERO_UUID,
        "tunnel_name": "",
        "virtual_network_id": ZERO_UUID,
        "virtual_network_name": "",
        "created_at": None,
        "deleted_at": None,
        "comment": "",
        "tun_type": "",
    }


class CfApiServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        state: Callable[[], labstate.LabState],
        catalog: Path,
        account_id: str,
        token: Callable[[], str],
    ) -> None:
        self._state = state
        self.catalog = catalog
        self.account_id = account_id
        self.token = token
        self.token_id = make_id("token", account_id)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._cache: tuple[float, list[SeedCluster]] | None = None
        self._account: tuple[Any, Account] | None = None
        self.stopping = threading.Event()
        super().__init__(address, _Handler)

    def current_state(self) -> labstate.LabState:
        return self._state()

    def clusters(self) -> list[SeedCluster]:
        try:
            mtime = self.catalog.stat().st_mtime
        except OSError:
            return []
        with self._lock:
            if self._cache is None or self._cache[0] != mtime:
                self._cache = (mtime, read_catalog(self.catalog))
            return self._cache[1]

    def account(self, st: labstate.LabState) -> Account:
        """The account for this state and catalog (built once per change: a big catalog
        makes thousands of objects)."""
        clusters = self.clusters()
        key = (json.dumps(dataclasses.asdict(st), sort_keys=True), id(clusters))
        with self._lock:
            if self._account is not None and self._account[0] == key:
                return self._account[1]
        account = Account(self.account_id, st, clusters)
        with self._lock:
            self._account = (key, account)
        return account

    def record(self, path: str, query: dict[str, str]) -> None:
        with self._lock:
            self.requests.append((path, query))

    def first_time(self, path: str) -> bool:
        with self._lock:
            if path in self._seen:
                return False
            self._seen.add(path)
            return True

    def hold(self, handler: _Handler) -> None:
        """A black hole: read nothing more, answer nothing, until the client gives up."""
        deadline = time.monotonic() + BLACKHOLE_S
        with contextlib.suppress(OSError, ValueError):
            handler.connection.settimeout(0.5)
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    if not handler.connection.recv(1024):
                        break
                except TimeoutError:
                    continue
        handler.close_connection = True


class CfApi:
    """A running stand-in; :meth:`stop` shuts it down."""

    def __init__(self, server: CfApiServer, thread: threading.Thread) -> None:
        self.server = server
        self._thread = thread
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}{API_PREFIX}"

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        return list(self.server.requests)

    def stop(self) -> None:
        self.server.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def start_cfapi(
    *,
    state: Callable[[], labstate.LabState],
    catalog: Path,
    account_id: str,
    token: Callable[[], str],
    host: str = "127.0.0.1",
    port: int = 0,
) -> CfApi:
    """Serve the stand-in on ``host:port`` (loopback only)."""
    if not host.startswith("127."):
        raise ValueError(f"the lab's Cloudflare API listens on loopback only, not {host}")
    server = CfApiServer(
        (host, port), state=state, catalog=catalog, account_id=account_id, token=token
    )
    thread = threading.Thread(target=server.serve_forever, name="lab-cfapi", daemon=True)
    thread.start()
    return CfApi(server, thread)


def start_for_lab(lab_dir: Path, host: str = "127.0.0.1", port: int = 0) -> CfApi:
    """The stand-in of a lab directory: its state, its catalog, its token file."""
    token_path = lab_dir / TOKEN_FILE

    def load_state() -> labstate.LabState:
        try:
            return labstate.load(lab_dir)
        except (OSError, ValueError, TypeError):
            return labstate.LabState()

    def token() -> str:
        try:
            return token_path.read_text(encoding="utf-8").strip()
        except OSError:
            return ""

    return start_cfapi(
        state=load_state,
        catalog=lab_dir / "catalog.yaml",
        account_id=labstate.WarpState().account_id,
        token=token,
        host=host,
        port=port,
    )


def ensure_token(lab_dir: Path) -> str:
    """The lab's API token (``DIR/cf-token``, 0600), created once."""
    import secrets

    from ztctl.adapters.fs import atomic_write

    path = lab_dir / TOKEN_FILE
    with contextlib.suppress(OSError):
        existing = path.read_text(encoding="utf-8").strip()
        if existing:
            return existing
    value = "lab-" + secrets.token_urlsafe(30)
    atomic_write(path, value.encode("utf-8"), mode=0o600)
    return value
