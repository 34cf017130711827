"""The lab's stand-in Kubernetes API server: real TLS, real HTTP/1.1, realistic answers.

Routes. A connection whose peer is the bastion's source address (``127.0.0.2``) arrived on
the break-glass route; any other peer came the Zero Trust way, which works only while the
lab's WARP would carry the packets (:func:`ztctl.lab.state.zero_trust_routes`) and the
``zt_path`` fault is ``up``. Otherwise the connection is held open and never answered
(``blackhole``, and WARP not routing) or closed with an RST (``reset``). The state file is
re-read for every connection and every request, so ``ztctl lab set`` needs no restart; a
kept-alive Zero Trust connection goes silent (or is reset) when the path goes down, as a
real one would. Every response carries ``X-Ztctl-Lab-Route``.

TLS. Each connection's handshake runs on its own thread (see :mod:`ztctl.lab.service`).
With the ``tls_inspection`` fault on, a Zero Trust connection is answered with the forged
chain of the look-alike Gateway CA and no client certificate is requested: like Gateway,
which terminates TLS and cannot forward a client certificate, so only bearer tokens pass.

Authentication, like kube-apiserver:
- A client certificate is requested (optional). The handshake verifies its chain against
  the cluster CA but ignores validity dates (OpenSSL's ``X509_V_FLAG_NO_CHECK_TIME``); the
  dates are then checked here, and an expired or not-yet-valid certificate makes every
  request a 401 ``Status``, as kube-apiserver's x509 authenticator does. Checking dates in
  the handshake instead would end in a TLS alert, which is not what kubectl users see from
  a real server. A certificate from an unknown CA still fails the handshake (Python's ssl
  cannot request a certificate without verifying it), where kube-apiserver answers 401.
- ``Authorization: Bearer`` with the lab's static token or a Cloudflare-Access-style RS256
  JWT (verified by :func:`ztctl.lab.edge.verify_access_jwt`, when that module exists).
- No credentials: anonymous, allowed only on ``/livez``, ``/readyz``, ``/healthz`` and
  ``/version`` (like ``system:public-info-viewer``); anything else is 401.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import logging
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ztctl.lab import (
    BASTION_SOURCE,
    CLUSTER_ADDRESS,
    LAB_HOST,
    ROUTE_BREAK_GLASS,
    ROUTE_HEADER,
    ROUTE_ZERO_TRUST,
    resources,
)
from ztctl.lab import state as lab_state
from ztctl.lab.cfaccount import intercepts, path_verdict
from ztctl.lab.pki import LabPki
from ztctl.lab.service import TcpService, reset, shutdown

log = logging.getLogger("ztctl.lab.apiserver")

HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 90.0  # keep-alive idle limit (Go's default idle timeout)
HOLD_S = 600.0  # how long a black hole keeps a connection before closing it
RESET_WAIT_S = 5.0  # how long `reset` waits for the client's first bytes
_NO_CHECK_TIME = 0x200000  # X509_V_FLAG_NO_CHECK_TIME (OpenSSL >= 1.1.0)

ANONYMOUS_PATHS = ("/livez", "/readyz", "/healthz", "/version")

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4",
    # Not a real commit: a lab build says so rather than borrowing a real hash.
    "gitCommit": hashlib.sha1(b"ztctl-lab v1.32.4", usedforsecurity=False).hexdigest(),
    "gitTreeState": "clean",
    "buildDate": "2025-04-22T16:02:27Z",
    "goVersion": "go1.23.6",
    "compiler": "gc",
    "platform": "linux/amd64",
}

# Health checks as kube-apiserver 1.32 lists them (shortened to the well-known ones).
_LIVEZ_CHECKS = (
    "ping",
    "log",
    "etcd",
    "poststarthook/start-apiserver-admission-initializer",
    "poststarthook/generic-apiserver-start-informers",
    "poststarthook/priority-and-fairness-config-consumer",
    "poststarthook/priority-and-fairness-filter",
    "poststarthook/storage-object-count-tracker-hook",
    "poststarthook/start-apiextensions-informers",
    "poststarthook/start-apiextensions-controllers",
    "poststarthook/crd-informer-synced",
    "poststarthook/start-system-namespaces-controller",
    "poststarthook/bootstrap-controller",
    "poststarthook/rbac/bootstrap-roles",
    "poststarthook/scheduling/bootstrap-system-priority-classes",
    "poststarthook/start-cluster-authentication-info-controller",
    "poststarthook/start-kube-apiserver-identity-lease-controller",
    "poststarthook/start-legacy-token-tracking-controller",
    "poststarthook/aggregator-reload-proxy-client-cert",
    "poststarthook/start-kube-aggregator-informers",
    "poststarthook/apiservice-registration-controller",
    "poststarthook/apiservice-status-available-controller",
    "poststarthook/kube-apiserver-autoregistration",
    "autoregister-completion",
    "poststarthook/apiservice-openapi-controller",
    "poststarthook/apiservice-discovery-controller",
)
_READYZ_CHECKS = (
    *_LIVEZ_CHECKS[:3],
    "etcd-readiness",
    "informer-sync",
    *_LIVEZ_CHECKS[3:],
    "shutdown",
)
# Which checks fail while the ``api_ready`` fault is off.
_NOT_READY_FAILS = frozenset({"etcd-readiness", "informer-sync"})

_API_RESOURCES_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortNames": ["ns"],
            "storageVersionHash": "Q3oi5N2YM8M=",
        }
    ],
}
_AUTHN_GROUP = "authentication.k8s.io"
_AUTHN_RESOURCES_V1 = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": f"{_AUTHN_GROUP}/v1",
    "resources": [
        {
            "name": "selfsubjectreviews",
            "singularName": "selfsubjectreview",
            "namespaced": False,
            "kind": "SelfSubjectReview",
            "verbs": ["create"],
        },
        {
            "name": "tokenreviews",
            "singularName": "tokenreview",
            "namespaced": False,
            "kind": "TokenReview",
            "verbs": ["create"],
        },
    ],
}


@dataclass(frozen=True)
class Identity:
    username: str
    groups: tuple[str, ...]
    method: str  # x509 | token | access-jwt | anonymous
    uid: str = ""
    extra: dict[str, list[str]] = field(default_factory=dict)


ANONYMOUS = Identity("system:anonymous", ("system:unauthenticated",), "anonymous")


@dataclass(frozen=True)
class Connection:
    """What the API server knows about one connection before any request."""

    route: str
    inspected: bool  # answered with the forged Gateway chain
    cert_identity: Identity | None  # from a valid client certificate
    cert_error: str | None  # why a presented client certificate was refused


def zero_trust_verdict(state: lab_state.LabState) -> str:
    """``up``, ``blackhole`` or ``reset``: what a Zero Trust connection meets right now."""
    if not lab_state.zero_trust_routes(state, CLUSTER_ADDRESS):
        return "blackhole"  # WARP would not carry it: packets go nowhere
    if path_verdict(state) != "up":
        return "blackhole"  # the account drops it: no route, no connector, proxy off...
    return state.faults.zt_path if state.faults.zt_path in lab_state.PATH_STATES else "up"


class ApiServer(TcpService):
    name = "apiserver"

    def __init__(
        self,
        lab_dir: Path,
        pki: LabPki,
        *,
        host: str = LAB_HOST,
        port: int = 0,
        break_glass_source: str = BASTION_SOURCE,
        hold_s: float = HOLD_S,
    ) -> None:
        super().__init__(host, port)
        self.lab_dir = lab_dir
        self.pki = pki
        self.break_glass_source = break_glass_source
        self.hold_s = hold_s
        self.static_token = pki.static_token()
        self._context = _server_context(pki.server_cert, pki.server_key, client_ca=pki.ca_cert)
        self._inspect_context = _server_context(pki.gateway_server_cert, pki.gateway_server_key)
        self._ca_cert = _load_cert(pki.ca_cert)

    def load_state(self) -> lab_state.LabState:
        try:
            return lab_state.load(self.lab_dir)
        except (OSError, ValueError, TypeError) as exc:
            log.warning("cannot read the lab state (%s); using the default state", exc)
            return lab_state.LabState()

    def handle(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        route = ROUTE_BREAK_GLASS if peer[0] == self.break_glass_source else ROUTE_ZERO_TRUST
        state = self.load_state()
        if route == ROUTE_ZERO_TRUST:
            verdict = zero_trust_verdict(state)
            if verdict != "up":
                log.info("%s:%s zero-trust connection meets %s", peer[0], peer[1], verdict)
                self.drop(sock, verdict)
                return
        inspected = route == ROUTE_ZERO_TRUST and (
            state.faults.tls_inspection or intercepts(state, self.port)
        )
        context = self._inspect_context if inspected else self._context
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay per reply
        sock.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            tls = context.wrap_socket(sock, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            # An EOF before any byte is a port check (`lab up` does one): not worth a line.
            level = logging.DEBUG if "EOF" in str(exc) else logging.INFO
            log.log(level, "%s:%s TLS handshake failed: %s", peer[0], peer[1], exc)
            return
        self.untrack(sock)
        self.track(tls)
        try:
            identity, error = (None, None) if inspected else self._certificate_identity(tls)
            conn = Connection(route, inspected, identity, error)
            _Handler(tls, peer, self, conn)
        finally:
            self.untrack(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def drop(self, sock: socket.socket, verdict: str, *, wait_for_data: bool = True) -> None:
        if verdict == "reset":
            if wait_for_data:
                # Reset in answer to the client's first bytes (its ClientHello), as a
                # middlebox does: the client's send succeeds and its read meets the RST,
                # every time, instead of racing the RST against the client's send.
                with contextlib.suppress(OSError):
                    sock.settimeout(RESET_WAIT_S)
                    sock.recv(1, socket.MSG_PEEK)
            reset(sock)
        else:
            self.hold(sock, self.hold_s)
            shutdown(sock)

    def _certificate_identity(self, tls: ssl.SSLSocket) -> tuple[Identity | None, str | None]:
        der = tls.getpeercert(binary_form=True)
        if not der:
            return None, None
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_der_x509_certificate(der)
        now = dt.datetime.now(dt.timezone.utc)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        if now > cert.not_valid_after_utc:
            until = cert.not_valid_after_utc.strftime(stamp)
            return None, f"x509: certificate has expired (notAfter {until})"
        if now < cert.not_valid_before_utc:
            since = cert.not_valid_before_utc.strftime(stamp)
            return None, f"x509: certificate is not yet valid (notBefore {since})"
        if cert.issuer != self._ca_cert.subject:
            return None, "x509: certificate signed by unknown authority"
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        groups = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        user = str(names[0].value) if names else ""
        if not user:
            return None, "x509: certificate has no common name"
        return Identity(user, tuple(str(g.value) for g in groups), "x509"), None

    def token_identity(self, token: str) -> Identity | None:
        if token == self.static_token:
            from ztctl.lab.pki import BEARER_GROUPS, BEARER_USER

            return Identity(BEARER_USER, BEARER_GROUPS, "token")
        claims = _verify_access_jwt(self.lab_dir, token)
        if not claims:
            return None
        user = str(claims.get("email") or claims.get("sub") or "")
        if not user:
            return None
        raw_groups = claims.get("groups")
        groups = tuple(str(g) for g in raw_groups) if isinstance(raw_groups, list) else ()
        return Identity(user, groups, "access-jwt", uid=str(claims.get("sub", "")))


def _verify_access_jwt(lab_dir: Path, token: str) -> dict[str, Any] | None:
    import importlib

    try:
        edge = importlib.import_module("ztctl.lab.edge")
    except ImportError:
        return None  # no Access JWT support in this lab build
    verify = getattr(edge, "verify_access_jwt", None)
    if verify is None:
        return None
    try:
        claims = verify(lab_dir, token)
    except Exception as exc:  # a bad token must never take the server down
        log.info("access JWT verification failed: %s", type(exc).__name__)
        return None
    return claims if isinstance(claims, dict) else None


def _load_cert(path: Path) -> Any:
    from cryptography import x509

    return x509.load_pem_x509_certificate(path.read_bytes())


def _server_context(cert: Path, key: Path, *, client_ca: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"])
    if client_ca is not None:
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VerifyFlags(_NO_CHECK_TIME)
    return context


def status_document(code: int, reason: str, message: str) -> dict[str, Any]:
    """A kube ``Status`` object as the API server returns it for failures."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _rfc3339(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    server: ApiServer  # type: ignore[assignment]

    def __init__(
        self,
        request: ssl.SSLSocket,
        client_address: tuple[str, int],
        server: ApiServer,
        conn: Connection,
    ) -> None:
        self.conn = conn
        self.state = lab_state.LabState()
        super().__init__(request, client_address, server)  # type: ignore[arg-type]

    # -- plumbing ---------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s:%s %s", self.client_address[0], self.client_address[1], format % args)

    def send_response(self, code: int, message: str | None = None) -> None:
        # No Server header: kube-apiserver sends none.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def date_time_string(self, timestamp: float | None = None) -> str:
        moment = time.time() if timestamp is None else timestamp
        return email.utils.formatdate(moment + self.state.faults.clock_skew_s, usegmt=True)

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True  # not supported: answer, then close
            return b""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(
        self, code: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(code)
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Type", content_type)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(ROUTE_HEADER, self.conn.route)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, document: dict[str, Any]) -> None:
        self._send(code, json.dumps(document).encode("utf-8") + b"\n", "application/json")

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode("utf-8"), "text/plain; charset=utf-8")

    def _status(self, code: int, reason: str, message: str) -> None:
        self._json(code, status_document(code, reason, message))

    # -- requests -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        body = self._read_body()
        self.state = self.server.load_state()
        if self.conn.route == ROUTE_ZERO_TRUST:
            verdict = zero_trust_verdict(self.state)
            if verdict != "up":
                # The path went down under a kept-alive connection: go silent or reset.
                log.info("zero-trust request %s %s meets %s", self.command, self.path, verdict)
                self.close_connection = True
                self.server.drop(self.request, verdict, wait_for_data=False)
                return
        if self.state.faults.latency_ms > 0:
            self.server.stopping.wait(self.state.faults.latency_ms / 1000.0)

        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = parse_qs(url.query, keep_blank_values=True)
        identity = self._authenticate()
        log.info(
            "%s %s route=%s user=%s",
            self.command,
            url.path,
            self.conn.route,
            identity.username if identity else "-",
        )
        if identity is None or (identity is ANONYMOUS and not _anonymous_allowed(path)):
            self._status(401, "Unauthorized", "Unauthorized")
            return
        self._route(path, query, body, identity)

    def _authenticate(self) -> Identity | None:
        """The request's user; ``None`` when credentials were presented but are invalid."""
        if self.conn.cert_identity is not None:
            return self.conn.cert_identity
        if self.conn.cert_error is not None:
            log.info("client certificate refused: %s", self.conn.cert_error)
            return None
        header = self.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                return None
            return self.server.token_identity(token.strip())
        return ANONYMOUS

    def _route(
        self, path: str, query: dict[str, list[str]], body: bytes, identity: Identity
    ) -> None:
        method = self.command
        if path in ("/livez", "/readyz", "/healthz"):
            self._health(path[1:], query)
            return
        getters = {
            "/version": lambda: KUBE_VERSION,
            "/api": self._api_versions,
            "/apis": _api_groups,
            "/api/v1": lambda: {**_API_RESOURCES_V1, "resources": resources.RESOURCES_V1},
            f"/apis/{_AUTHN_GROUP}": lambda: _api_groups()["groups"][0],
            f"/apis/{_AUTHN_GROUP}/v1": lambda: _AUTHN_RESOURCES_V1,
        }
        if path in getters:
            if method not in ("GET", "HEAD"):
                self._status(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
                return
            self._json(200, getters[path]())
            return
        found = resources.lookup(path)
        if found is not None:
            self._resource(method, path, *found)
            return
        if path == f"/apis/{_AUTHN_GROUP}/v1/selfsubjectreviews":
            if method != "POST":
                self._status(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
                return
            self._self_subject_review(body, identity)
            return
        if path.startswith(("/api/", "/apis/")):
            self._status(404, "NotFound", "the server could not find the requested resource")
            return
        self._text(404, "404 page not found\n")

    def _resource(self, method: str, path: str, kind: str, found: Any) -> None:
        """A read of a lab object or list: JSON, or the Table kubectl asks for."""
        if method not in ("GET", "HEAD"):
            self._status(
                405,
                "MethodNotAllowed",
                "the lab cluster is read-only: the server does not allow this method",
            )
            return
        if found is None:
            name = path.rstrip("/").rsplit("/", 1)[1]
            self._status(404, "NotFound", f'{kind.lower()}s "{name}" not found')
            return
        items = found if isinstance(found, list) else [found]
        if "as=Table" in self.headers.get("Accept", ""):
            self._json(200, resources.table(kind, items))
        elif isinstance(found, list):
            self._json(200, resources.listing(kind, items))
        else:
            self._json(200, found)

    def _health(self, kind: str, query: dict[str, list[str]]) -> None:
        checks = _READYZ_CHECKS if kind == "readyz" else _LIVEZ_CHECKS
        excluded = {name for value in query.get("exclude", []) for name in value.split(",")}
        ready = self.state.faults.api_ready
        lines: list[str] = []
        failed = False
        for check in checks:
            if check in excluded:
                continue
            if not ready and kind != "livez" and check in _NOT_READY_FAILS:
                lines.append(f"[-]{check} failed: reason withheld")
                failed = True
            else:
                lines.append(f"[+]{check} ok")
        if failed:
            # kube-apiserver prints the check list on failure, verbose or not.
            self._text(500, "\n".join(lines) + f"\n{kind} check failed\n")
        elif "verbose" in query:
            self._text(200, "\n".join(lines) + f"\n{kind} check passed\n")
        else:
            self._text(200, "ok")

    def _api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {
                    "clientCIDR": "0.0.0.0/0",
                    "serverAddress": f"{CLUSTER_ADDRESS}:{self.server.port}",
                }
            ],
        }

    def _self_subject_review(self, body: bytes, identity: Identity) -> None:
        # kubectl sends the (empty) review as protobuf and accepts JSON back; a JSON body
        # must at least parse. Nothing in the request changes the answer.
        if "json" in self.headers.get("Content-Type", "") and body:
            try:
                json.loads(body)
            except ValueError:
                self._status(400, "BadRequest", "the request body is not valid JSON")
                return
        api_version = f"{_AUTHN_GROUP}/v1"
        groups = list(identity.groups)
        if identity is not ANONYMOUS and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        extra = {**identity.extra, "ztctl.lab/route": [self.conn.route]}
        if self.conn.inspected:
            extra["ztctl.lab/tls-inspection"] = ["on"]
        user_info: dict[str, Any] = {
            "username": identity.username,
            "groups": groups,
            "extra": extra,
        }
        if identity.uid:
            user_info["uid"] = identity.uid
        self._json(
            201,
            {
                "kind": "SelfSubjectReview",
                "apiVersion": api_version,
                "metadata": {"creationTimestamp": _rfc3339(time.time())},
                "status": {"userInfo": user_info},
            },
        )


def _anonymous_allowed(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in ANONYMOUS_PATHS)


def _api_groups() -> dict[str, Any]:
    version = {"groupVersion": f"{_AUTHN_GROUP}/v1", "version": "v1"}
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [{"name": _AUTHN_GROUP, "versions": [version], "preferredVersion": version}],
    }
