"""The server-side checks (``cf.*``, contract §9): what only Cloudflare's API can answer.

:class:`ServerSide` holds the API client and a single-flight memo of every call the checks
share: one token verification, one route lookup per address, one tunnel fetch per tunnel
(however many clusters use it), one Gateway configuration and rule list, one device
registration and profile. A waiter on the memo waits only until its *own* deadline, so a
slow API costs each check at most its timeout and never a hang.

What the API cannot see is never pretended: whether cloudflared reaches the API server,
which virtual network the device selected at runtime, local routes, live posture. The TLS
inspection check is a *policy lint* of the Gateway rules, not Gateway's verdict.

API trouble (unreachable, slow, rate-limited, a broken answer) makes a check ``warn`` or
``skip`` with the reason, never ``fail``: a failure always means something in the account
is wrong. Each failure carries ``data["cause"]``, the sentence the root-cause pass
(:mod:`~ztctl.core.checks.diagnose`) puts into the fix of the local failure it explains.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ztctl.adapters.cloudflare import ApiError, ApiErrorKind, Permission, is_zero_route
from ztctl.core.checks.runner import Check, Outcome, failed, passed, skipped, warned

if TYPE_CHECKING:
    from ztctl.adapters.cloudflare import CloudflareApi
    from ztctl.core.cloudflare import Verification
    from ztctl.core.model import Cluster

T = TypeVar("T")

GLOBAL_IDS = ("cf.api", "cf.device", "cf.gateway")
CLUSTER_IDS = ("cf.route", "cf.tunnel", "cf.split-tunnel", "cf.inspection")
CATALOG_CLUSTER_IDS = ("cf.route", "cf.tunnel", "cf.inspection")
TITLES = {
    "cf.api": "Cloudflare API token",
    "cf.device": "Device registration (server side)",
    "cf.gateway": "Gateway TCP proxy",
    "cf.route": "Private network route",
    "cf.tunnel": "Cloudflare Tunnel and connectors",
    "cf.split-tunnel": "Split tunnel (device profile)",
    "cf.inspection": "Gateway TLS inspection",
}
MIN_CONNECTORS = 2
PLATFORM = "tell the platform team"


class _Slot:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class Memo:
    """Single flight with bounded waits: the first caller computes (with its deadline), the
    others wait at most until their own deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, _Slot] = {}

    def get(self, key: str, compute: Callable[[], T], deadline: float) -> T:
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot()
        if owner:
            try:
                slot.value = compute()
            except BaseException as exc:
                slot.error = exc
            finally:
                slot.event.set()
        elif not slot.event.wait(max(0.0, deadline - time.monotonic())):
            raise ApiError(ApiErrorKind.TIMEOUT, "the Cloudflare API did not answer in time")
        if slot.error is not None:
            raise slot.error
        value: T = slot.value
        return value


@dataclass
class ServerSide:
    """Everything the cf.* checks share during one run."""

    api: CloudflareApi | None
    unavailable: str = ""  # why there are no server-side checks (no token, no account)
    unavailable_fix: str = ""
    broken: bool = False  # the token is malformed: cf.api fails (the others skip)
    device_id: Callable[[], str | None] | None = None  # doctor: this device's WARP id
    memo: Memo = field(default_factory=Memo)
    check_ids: set[str] = field(default_factory=set)  # the cf.* checks of this run

    # -- shared calls ------------------------------------------------------------------

    def _api(self) -> CloudflareApi:
        assert self.api is not None
        return self.api

    def verification(self, deadline: float) -> Verification:
        from ztctl.core.cloudflare import verify

        return self.memo.get("verify", lambda: verify(self._api(), deadline), deadline)

    def _call(
        self,
        key: str,
        path: str,
        params: Mapping[str, Any],
        deadline: float,
        permission: Permission,
    ) -> Any:
        api = self._api()
        return self.memo.get(
            key,
            lambda: (
                api.get(
                    api.account_path(path), params, deadline=deadline, permission=permission
                ).result
            ),
            deadline,
        )

    def device_settings(self, deadline: float) -> Mapping[str, Any]:
        known = self.verification(deadline).device_settings
        if known is not None:
            return known
        value = self._call("settings", "devices/settings", {}, deadline, Permission.ZERO_TRUST)
        return value if isinstance(value, dict) else {}

    def virtual_networks(self, deadline: float) -> list[Mapping[str, Any]]:
        known = self.verification(deadline).virtual_networks
        if known is not None:
            return list(known)
        api = self._api()
        value = self.memo.get(
            "vnets",
            lambda: api.list_pages(
                api.account_path("teamnet/virtual_networks"),
                {"is_deleted": "false"},
                deadline=deadline,
                permission=Permission.NETWORKS,
            ),
            deadline,
        )
        return [v for v in value if isinstance(v, dict)]

    def vnet_name(self, vnet_id: str | None, deadline: float) -> str | None:
        if not vnet_id:
            return None
        try:
            for vnet in self.virtual_networks(deadline):
                if vnet.get("id") == vnet_id:
                    return str(vnet.get("name") or vnet_id)
        except ApiError:
            pass
        return None

    def registrations(self, device_id: str, deadline: float) -> list[Mapping[str, Any]]:
        api = self._api()
        value = self.memo.get(
            f"registrations:{device_id}",
            lambda: api.list_cursor(
                api.account_path("devices/registrations"),
                {"device.id": device_id, "include": "policy", "status": "all"},
                deadline=deadline,
                permission=Permission.ZERO_TRUST,
            ),
            deadline,
        )
        return [r for r in value if isinstance(r, dict)]

    def profile(self, deadline: float) -> tuple[Mapping[str, Any] | None, str]:
        """The device settings profile that applies, and where it came from: this device's
        (doctor), else the account's default profile (catalog check, or no registration)."""
        policy_id: str | None = None
        origin = "the default device profile"  # when the device's own is unknown
        device = self.device_id() if self.device_id is not None else None
        if device:
            active = [r for r in self.registrations(device, deadline) if not r.get("revoked_at")]
            policy = active[0].get("policy") if active else None
            if isinstance(policy, dict) and policy.get("id") and not policy.get("default"):
                policy_id = str(policy["id"])
                origin = "this device's profile"
            elif active:
                origin = "this device's profile (the default one)"
        path = f"devices/policy/{policy_id}" if policy_id else "devices/policy"
        value = self._call(f"profile:{policy_id}", path, {}, deadline, Permission.ZERO_TRUST)
        return (value if isinstance(value, dict) else None), origin

    def profile_vnet(self, deadline: float) -> tuple[str | None, str]:
        """The virtual network devices land on (the profile's default), or None when the
        token cannot read profiles or the profile names none."""
        verification = self.verification(deadline)
        if verification.lacks(Permission.ZERO_TRUST):
            return None, ""
        try:
            profile, origin = self.profile(deadline)
        except ApiError as exc:
            if exc.transient:
                raise
            return None, ""
        vnets = profile.get("virtual_networks") if profile else None
        default = vnets.get("default") if isinstance(vnets, dict) else None
        name = profile.get("name") if profile else None
        return (str(default) if default else None), (f"{origin} {name!r}" if name else origin)

    def route_for(
        self, address: str, vnet: str | None, deadline: float
    ) -> Mapping[str, Any] | None:
        api = self._api()
        params = {"virtual_network_id": vnet} if vnet else {}

        def lookup() -> Mapping[str, Any] | None:
            try:
                result = api.get(
                    api.account_path(f"teamnet/routes/ip/{address}"),
                    params,
                    deadline=deadline,
                    permission=Permission.NETWORKS,
                ).result
            except ApiError as exc:
                if exc.kind is ApiErrorKind.NOT_FOUND:
                    return None  # a miss answered as 404 rather than the zero route
                raise
            return None if is_zero_route(result) else result

        return self.memo.get(f"route:{address}:{vnet}", lookup, deadline)

    def covering_routes(self, address: str, deadline: float) -> list[Mapping[str, Any]]:
        """Every live route that contains ``address``, in any virtual network."""
        api = self._api()
        prefix = 32 if ipaddress.ip_address(address).version == 4 else 128
        value = self.memo.get(
            f"routes:{address}",
            lambda: api.list_pages(
                api.account_path("teamnet/routes"),
                {"network_superset": f"{address}/{prefix}", "is_deleted": "false"},
                deadline=deadline,
                permission=Permission.NETWORKS,
            ),
            deadline,
        )
        return [r for r in value if isinstance(r, dict)]

    def tunnel(self, tunnel_id: str, deadline: float) -> tuple[Mapping[str, Any], list[Any]]:
        api = self._api()

        def fetch() -> tuple[Mapping[str, Any], list[Any]]:
            tunnel = api.get(
                api.account_path(f"cfd_tunnel/{tunnel_id}"),
                deadline=deadline,
                permission=Permission.TUNNELS,
            ).result
            clients = api.get(
                api.account_path(f"cfd_tunnel/{tunnel_id}/connections"),
                deadline=deadline,
                permission=Permission.TUNNELS,
            ).result
            return (tunnel if isinstance(tunnel, dict) else {}), (
                clients if isinstance(clients, list) else []
            )

        return self.memo.get(f"tunnel:{tunnel_id}", fetch, deadline)

    def gateway(self, deadline: float) -> tuple[Mapping[str, Any], list[Mapping[str, Any]]]:
        config = self._call(
            "gateway-config", "gateway/configuration", {}, deadline, Permission.ZERO_TRUST
        )
        rules = self._call("gateway-rules", "gateway/rules", {}, deadline, Permission.ZERO_TRUST)
        settings = config.get("settings") if isinstance(config, dict) else None
        return (settings if isinstance(settings, dict) else {}), [
            r for r in (rules if isinstance(rules, list) else []) if isinstance(r, dict)
        ]


# -- building the checks -----------------------------------------------------------------


def checks(
    server: ServerSide,
    clusters: Sequence[Cluster],
    *,
    timeout: float,
    device: bool = True,
    on_cluster_ids: Sequence[str] = CLUSTER_IDS,
    extra_after: tuple[str, ...] = (),
) -> list[Check]:
    """``cf.api``, (with ``device``) ``cf.device`` and ``cf.gateway``, and per cluster the
    ids in ``on_cluster_ids``. ``timeout`` bounds each check's API calls."""
    from ztctl.core.checks.context import inner_timeout

    budget = inner_timeout(timeout)

    def bind(fn: Callable[..., Outcome], *args: Any) -> Callable[[], Outcome]:
        return lambda: _guard(server, fn, time.monotonic() + budget, *args)

    out = [Check("cf.api", TITLES["cf.api"], bind(check_api), after=extra_after)]
    if device:
        out.append(Check("cf.device", TITLES["cf.device"], bind(check_device), after=("cf.api",)))
        out.append(
            Check("cf.gateway", TITLES["cf.gateway"], bind(check_gateway), after=("cf.api",))
        )
    everyone = tuple(clusters)
    server.check_ids.update(c.id for c in out)
    server.check_ids.update(on_cluster_ids if clusters else ())
    for cluster in clusters:
        for check_id in on_cluster_ids:
            fn = _CLUSTER_FUNCS[check_id]
            after = ("cf.api",)  # cf.tunnel shares cf.route's lookups, not its timeline
            out.append(
                Check(
                    check_id,
                    TITLES[check_id],
                    bind(fn, cluster, everyone),
                    cluster=cluster.name,
                    after=after,
                )
            )
    return out


def _guard(server: ServerSide, fn: Callable[..., Outcome], deadline: float, *args: Any) -> Outcome:
    """The common part of every cf.* check: no API → skip; API trouble → warn/skip; and an
    answer by ``deadline`` whatever happens (a slow API is a warning, never the runner's
    "did not finish" failure)."""
    if server.api is None:
        if server.broken and fn is check_api:
            return failed(server.unavailable, server.unavailable_fix)
        if server.broken:
            return skipped(
                f"skipped: the Cloudflare API token could not be used ({server.unavailable})"
            )
        return Outcome("skip", server.unavailable, server.unavailable_fix)
    outcome = _run_guarded(server, fn, deadline, *args)
    return _scrubbed(outcome, server.api.token)


def _scrubbed(outcome: Outcome, token: str) -> Outcome:
    """The one place every cf.* outcome passes: no trace of the token in what is reported."""
    from ztctl.core.cloudflare import scrub

    return Outcome(
        outcome.status,
        scrub(outcome.summary, token),
        scrub(outcome.fix, token),
        scrub(outcome.data, token),
    )


def _run_guarded(
    server: ServerSide, fn: Callable[..., Outcome], deadline: float, *args: Any
) -> Outcome:
    box: list[Outcome | BaseException] = []

    def work() -> None:
        try:
            box.append(_checked_call(server, fn, deadline, *args))
        except BaseException as exc:  # handed to the runner, which reports a crash
            box.append(exc)

    worker = threading.Thread(target=work, name="ztctl-cf-check", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()) + 0.02)
    if box:
        if isinstance(box[0], BaseException):
            from ztctl.core.cloudflare import scrub

            assert server.api is not None
            text = str(box[0])
            clean = scrub(text, server.api.token)
            if clean != text:  # the runner reports a crash with the exception's text
                raise RuntimeError(f"{type(box[0]).__name__}: {clean}") from None
            raise box[0]
        return box[0]
    return warned(
        "the Cloudflare API did not answer in time",
        _fix(ApiErrorKind.TIMEOUT),
        {"apiError": {"kind": ApiErrorKind.TIMEOUT.value}},
    )


def _checked_call(
    server: ServerSide, fn: Callable[..., Outcome], deadline: float, *args: Any
) -> Outcome:
    try:
        if fn is not check_api:
            verification = server.verification(deadline)
            if not verification.ok:
                why = verification.error.message if verification.error else "not verified"
                return skipped(f"skipped: the Cloudflare API token could not be used ({why})")
            needed = _NEEDS.get(fn)
            if needed is not None and verification.lacks(needed):
                return Outcome(
                    "skip",
                    f"skipped: the token lacks {needed.value}",
                    _fix(ApiErrorKind.PERMISSION, needed),
                    {"missingPermission": needed.value},
                )
        return fn(server, deadline, *args)
    except ApiError as exc:
        return _api_trouble(exc)


def _fix(kind: ApiErrorKind, permission: Permission | None = None) -> str:
    from ztctl.adapters.cloudflare import fix_for

    return fix_for(kind, permission=permission)


def _api_trouble(exc: ApiError) -> Outcome:
    data = {"apiError": exc.to_dict()}
    if exc.kind is ApiErrorKind.PERMISSION:
        name = exc.permission.value if exc.permission else "a permission this check needs"
        return Outcome("skip", f"skipped: the token lacks {name}", exc.fix, data)
    if exc.transient:
        return warned(f"could not ask the Cloudflare API: {exc.message}", exc.fix, data)
    return failed(exc.message, exc.fix, data)


# -- cf.api --------------------------------------------------------------------------------


def check_api(server: ServerSide, deadline: float) -> Outcome:
    verification = server.verification(deadline)
    data = verification.to_dict()
    error = verification.error
    if error is not None:
        if error.transient:
            return warned(
                f"could not ask the Cloudflare API ({error.message}): the server-side checks "
                "are skipped",
                error.fix,
                data,
            )
        if error.kind is ApiErrorKind.ACCOUNT:
            return failed(
                f"the token cannot read account {server._api().account_id}: {error.message}",
                error.fix,
                data,
            )
        return failed(error.message, error.fix, data)
    if not verification.ok:
        return failed(
            f"the Cloudflare API token is {verification.status}",
            _fix(ApiErrorKind.INVALID_TOKEN),
            data,
        )
    owner = f"{verification.ownership}-owned"
    expiry = f", expires {verification.expires_on}" if verification.expires_on else ""
    missing = verification.missing
    if missing:
        checks_hit = sorted(
            c
            for c, p in _needs_by_id().items()
            if p in missing and (not server.check_ids or c in server.check_ids)
        )
        names = " and ".join(p.value for p in missing)
        return warned(
            f"the token verifies ({owner}{expiry}) but lacks {names}"
            + (
                f": {', '.join(checks_hit)} {'is' if len(checks_hit) == 1 else 'are'} skipped"
                if checks_hit
                else ""
            ),
            "; ".join(_fix(ApiErrorKind.PERMISSION, p) for p in missing),
            data,
        )
    return passed(
        f"the token verifies ({owner}, active{expiry}) and can read what every check needs", data
    )


def _needs_by_id() -> dict[str, Permission]:
    from ztctl.core.cloudflare import needs

    return needs()


# -- cf.device / cf.gateway -----------------------------------------------------------------


def check_device(server: ServerSide, deadline: float) -> Outcome:
    device = server.device_id() if server.device_id is not None else None
    if not device:
        return skipped("skipped: warp-cli shows no device registration id (see warp.registration)")
    rows = server.registrations(device, deadline)
    data: dict[str, Any] = {"deviceId": device, "registrations": len(rows)}
    if not rows:
        return failed(
            f"the account has no registration for this device ({device})",
            "the device is enrolled in another Zero Trust organization, or its registration "
            "was deleted: run `ztctl login` to enrol it again",
            {**data, "cause": "this device is not registered in the account"},
        )
    active = [r for r in rows if not r.get("revoked_at") and not r.get("deleted_at")]
    if not active:
        revoked = max(str(r.get("revoked_at") or r.get("deleted_at") or "") for r in rows)
        data["revokedAt"] = revoked
        return failed(
            f"this device's registration was revoked ({_when(revoked)})",
            "an admin revoked it, so Cloudflare drops its traffic: run `ztctl login` to enrol "
            "again; if it is revoked again, ask the Zero Trust admins why",
            {**data, "cause": f"this device's registration was revoked {_when(revoked)}"},
        )
    reg = active[0]
    user: Mapping[str, Any] = reg["user"] if isinstance(reg.get("user"), dict) else {}
    policy: Mapping[str, Any] = reg["policy"] if isinstance(reg.get("policy"), dict) else {}
    data.update(
        {
            "registrationId": reg.get("id"),
            "user": user.get("email"),
            "profile": {"id": policy.get("id"), "name": policy.get("name")},
            "lastSeenAt": reg.get("last_seen_at"),
            "tunnelType": reg.get("tunnel_type"),
        }
    )
    profile = policy.get("name") or ("the default profile" if policy.get("default") else None)
    if not profile:
        return warned(
            f"registered as {user.get('email') or 'an unknown user'}, but the registration names "
            "no settings profile",
            "",
            data,
        )
    return passed(
        f"registered as {user.get('email') or 'an unknown user'}, profile {profile!r}"
        + (f", last seen {_when(str(reg['last_seen_at']))}" if reg.get("last_seen_at") else ""),
        data,
    )


def check_gateway(server: ServerSide, deadline: float) -> Outcome:
    settings = server.device_settings(deadline)
    data = {
        "gatewayProxyEnabled": settings.get("gateway_proxy_enabled"),
        "gatewayUdpProxyEnabled": settings.get("gateway_udp_proxy_enabled"),
    }
    if settings.get("gateway_proxy_enabled") is not True:
        return failed(
            "Gateway's TCP proxy is off for the account, so WARP carries nothing to private "
            "networks",
            "a Zero Trust admin must turn on Settings > Network > Proxy (TCP) — " + PLATFORM,
            {**data, "cause": "Gateway's TCP proxy is off for the account"},
        )
    udp = " and UDP" if settings.get("gateway_udp_proxy_enabled") else ""
    return passed(f"Gateway's TCP{udp} proxy is on", data)


# -- cf.route ------------------------------------------------------------------------------


def check_route(
    server: ServerSide, deadline: float, cluster: Cluster, everyone: Sequence[Cluster]
) -> Outcome:
    if not cluster.addresses:
        return skipped("the catalog lists no addresses for this cluster")
    vnet, origin = server.profile_vnet(deadline)
    vnet_label = server.vnet_name(vnet, deadline) if vnet else None
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    causes: list[str] = []
    worries: list[str] = []
    for address in cluster.addresses:
        route = server.route_for(address, vnet, deadline) if vnet else None
        if route is None:
            covering = server.covering_routes(address, deadline)
            if vnet is None and covering:
                route = covering[0]
            elif covering:
                other = covering[0]
                where = other.get("virtual_network_name") or other.get("virtual_network_id")
                rows.append({"address": address, **_route_data(other), "inDeviceVnet": False})
                problems.append(
                    f"{address} is routed only in virtual network {where!r} ({other.get('network')}"
                    f" → tunnel {other.get('tunnel_name')}), not in {vnet_label or vnet!r}, "
                    f"which {origin} uses"
                )
                causes.append(
                    f"the route for {address} is in virtual network {where!r}, but {origin} "
                    f"uses {vnet_label or vnet!r}"
                )
                continue
        if route is None:
            rows.append({"address": address, "route": None})
            scope = f" in virtual network {vnet_label or vnet!r}" if vnet else ""
            problems.append(f"no private network route covers {address}{scope}")
            causes.append(f"no private network route covers {address}")
            continue
        rows.append({"address": address, **_route_data(route), "inDeviceVnet": bool(vnet)})
        worry = _name_worry(cluster, route, everyone)
        if worry:
            worries.append(worry)
    data: dict[str, Any] = {
        "routes": rows,
        "virtualNetwork": vnet,
        "virtualNetworkName": vnet_label,
    }
    if problems:
        return failed(
            "; ".join(problems),
            "add a route for the address in the right virtual network to the cluster's "
            "tunnel (`cloudflared tunnel route ip add --vnet VNET ADDRESS/32 TUNNEL`, or in "
            "Terraform) — " + PLATFORM,
            {**data, "cause": "; ".join(causes)},
        )
    summary = "; ".join(
        f"{r['address']} → {r['network']} → tunnel {r['tunnelName']}"
        + (f" (vnet {r['virtualNetworkName']})" if r.get("virtualNetworkName") else "")
        for r in rows
    )
    if worries:
        return warned(summary + "; " + "; ".join(worries), "worth a look: " + PLATFORM, data)
    return passed(summary, data)


def _route_data(route: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "route": route.get("id"),
        "network": route.get("network"),
        "tunnelId": route.get("tunnel_id"),
        "tunnelName": route.get("tunnel_name"),
        "virtualNetwork": route.get("virtual_network_id"),
        "virtualNetworkName": route.get("virtual_network_name"),
        "comment": route.get("comment"),
    }


def _name_worry(cluster: Cluster, route: Mapping[str, Any], everyone: Sequence[Cluster]) -> str:
    """A route whose tunnel's name mentions neither this cluster nor a cluster with the same
    API server is worth a look (a copy-paste in Terraform sends traffic to the wrong cluster)."""
    name = str(route.get("tunnel_name") or "").lower()
    if not name:
        return ""
    same = [c.name for c in everyone if c.server == cluster.server] or [cluster.name]
    if any(n.lower() in name for n in same):
        return ""
    return f"the tunnel's name {name!r} does not mention {cluster.name!r}"


# -- cf.tunnel -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connector:
    id: str
    version: str
    arch: str
    run_at: str | None
    edge_connections: int
    colos: tuple[str, ...]
    origin_ips: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "arch": self.arch,
            "runAt": self.run_at,
            "edgeConnections": self.edge_connections,
            "colos": list(self.colos),
            "originIps": list(self.origin_ips),
        }


def connectors(clients: Sequence[Any]) -> list[Connector]:
    out = []
    for item in clients:
        if not isinstance(item, dict):
            continue
        conns = [c for c in item.get("conns") or [] if isinstance(c, dict)]
        out.append(
            Connector(
                id=str(item.get("id") or ""),
                version=str(item.get("version") or ""),
                arch=str(item.get("arch") or ""),
                run_at=str(item["run_at"]) if item.get("run_at") else None,
                edge_connections=len(conns),
                colos=tuple(sorted({str(c.get("colo_name")) for c in conns if c.get("colo_name")})),
                origin_ips=tuple(
                    sorted({str(c.get("origin_ip")) for c in conns if c.get("origin_ip")})
                ),
            )
        )
    return out


def describe_connectors(items: Sequence[Connector]) -> str:
    """``3 connectors (2025.11.1), 12 edge connections, AMS FRA LHR``."""
    if not items:
        return "0 connectors"
    versions = sorted({c.version for c in items if c.version})
    edges = sum(c.edge_connections for c in items)
    colos = sorted({colo for c in items for colo in c.colos})
    word = "connector" if len(items) == 1 else "connectors"
    text = f"{len(items)} {word}"
    if versions:
        text += f" ({', '.join(versions)})"
    text += f", {edges} edge connection{'' if edges == 1 else 's'}"
    if colos:
        text += ", " + " ".join(colos)
    return text


def check_tunnel(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    vnet, _origin = server.profile_vnet(deadline)
    seen: dict[str, str] = {}  # tunnel id -> an address it serves
    for address in cluster.addresses:
        route = server.route_for(address, vnet, deadline) if vnet else None
        if route is None:
            covering = server.covering_routes(address, deadline)
            route = covering[0] if covering else None
        if route is not None and route.get("tunnel_id"):
            seen.setdefault(str(route["tunnel_id"]), address)
    if not seen:
        return skipped("no route, so no tunnel to check (see cf.route)")
    rows: list[dict[str, Any]] = []
    worst = "pass"
    summaries: list[str] = []
    causes: list[str] = []
    for tunnel_id, address in seen.items():
        try:
            tunnel, clients = server.tunnel(tunnel_id, deadline)
        except ApiError as exc:
            if exc.kind is not ApiErrorKind.NOT_FOUND:
                raise
            rows.append({"id": tunnel_id, "status": "deleted"})
            worst = "fail"
            summaries.append(
                f"the route for {address} points at tunnel {tunnel_id}, which does not exist"
            )
            causes.append(f"the route for {address} points at a tunnel that no longer exists")
            continue
        items = connectors(clients)
        name = str(tunnel.get("name") or tunnel_id)
        status = str(tunnel.get("status") or "unknown")
        row = {
            "id": tunnel_id,
            "name": name,
            "status": status,
            "connsActiveAt": tunnel.get("conns_active_at"),
            "connsInactiveAt": tunnel.get("conns_inactive_at"),
            "connectors": [c.to_dict() for c in items],
        }
        rows.append(row)
        text = f"tunnel {name} {status}: {describe_connectors(items)}"
        if status in ("down", "inactive") or not items:
            since = tunnel.get("conns_inactive_at")
            when = f" since {_when(str(since))}" if since else ""
            worst = "fail"
            summaries.append(f"tunnel {name} is {status}{when}: {describe_connectors(items)}")
            causes.append(
                f"the route for {address} sends it to tunnel {name}, which has 0 connectors"
                f"{when}: the cluster's cloudflared deployment is down"
            )
        elif status != "healthy" or len(items) < MIN_CONNECTORS:
            worst = "fail"
            need = f" (at least {MIN_CONNECTORS} needed)" if len(items) < MIN_CONNECTORS else ""
            summaries.append(f"{text}{need}")
            causes.append(
                f"the route for {address} sends it to tunnel {name}, which is {status} with "
                f"{len(items)} connector{'s' if len(items) != 1 else ''} up{need}"
            )
        else:
            summaries.append(text)
        weak = [c for c in items if c.edge_connections < 4]
        if weak and worst == "pass":
            worst = "warn"
            summaries[-1] += f"; {len(weak)} connector(s) with fewer than 4 edge connections"
    data: dict[str, Any] = {"tunnels": rows}
    summary = "; ".join(summaries)
    if worst == "fail":
        return failed(
            summary,
            "the cluster's cloudflared replicas are not (all) connected: check the cloudflared "
            "deployment in the cluster (pods, logs; egress to the edge on port 7844) — " + PLATFORM,
            {**data, "cause": "; ".join(causes)},
        )
    if worst == "warn":
        return warned(summary, "check the cloudflared replicas' logs — " + PLATFORM, data)
    return passed(summary, data)


# -- cf.split-tunnel -------------------------------------------------------------------------


def check_split_tunnel(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    profile, origin = server.profile(deadline)
    if profile is None:
        return skipped("the API returned no device profile")
    include = [e for e in profile.get("include") or [] if isinstance(e, dict)]
    exclude = [e for e in profile.get("exclude") or [] if isinstance(e, dict)]
    mode = "include" if include else "exclude"
    name = profile.get("name") or ("default" if profile.get("default", True) else "?")
    not_sent: list[dict[str, Any]] = []
    for address in cluster.addresses:
        ip = ipaddress.ip_address(address)
        if mode == "include":
            hit = _covering(include, ip)
            if hit is None:
                not_sent.append({"address": address, "reason": "not in the Include list"})
        else:
            hit = _covering(exclude, ip)
            if hit is not None:
                not_sent.append({"address": address, "reason": f"excluded by {hit}", "entry": hit})
    data = {"profile": name, "mode": mode, "notSent": not_sent}
    if not_sent:
        listed = ", ".join(f"{r['address']} ({r['reason']})" for r in not_sent)
        action = (
            "add ADDRESS/32 to its Include list"
            if mode == "include"
            else "take the address out of its Exclude list (replace the wide range with "
            "ranges that leave it out)"
        )
        return failed(
            f"{origin} {name!r} sends {listed} outside WARP",
            f"a Zero Trust admin must change the split tunnel of profile {name!r}: {action} — "
            + PLATFORM,
            {
                **data,
                "cause": f"the split tunnel of device profile {name!r} sends {listed} outside WARP",
            },
        )
    return passed(
        f"{origin} {name!r} ({mode} mode) sends {', '.join(cluster.addresses)} into WARP", data
    )


def _covering(entries: Sequence[Mapping[str, Any]], ip: Any) -> str | None:
    for entry in entries:
        address = entry.get("address")
        if not address:
            continue  # a host entry: needs DNS, cannot be judged for a raw IP
        try:
            network = ipaddress.ip_network(str(address), strict=False)
        except ValueError:
            continue
        if network.version == ip.version and ip in network:
            return str(address)
    return None


# -- cf.inspection -------------------------------------------------------------------------


def check_inspection(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    settings, rules = server.gateway(deadline)
    decrypt = bool((settings.get("tls_decrypt") or {}).get("enabled"))
    mode = str((settings.get("inspection") or {}).get("mode") or "static")
    port = cluster.port
    data: dict[str, Any] = {"tlsDecrypt": decrypt, "inspectionMode": mode, "port": port}
    if not decrypt:
        return passed("Gateway's TLS decryption is off", data)
    if mode == "static" and port != 443:
        return passed(
            f"TLS decryption is on in static mode, which inspects port 443 only (the API "
            f"server uses {port})",
            data,
        )
    lint = lint_http_rules(rules, cluster.addresses, port)
    data["lint"] = lint.to_dict()
    why = "dynamic mode inspects every port" if mode == "dynamic" else "static mode inspects 443"
    if lint.do_not_inspect is not None and not lint.unknown:
        return passed(
            f"TLS decryption is on ({why}), but Do Not Inspect rule {lint.do_not_inspect!r} "
            "comes first for " + ", ".join(cluster.addresses) + " (policy lint)",
            {**data, "doNotInspectRule": lint.do_not_inspect},
        )
    addresses = ", ".join(f"{a}/32" for a in cluster.addresses)
    fix = (
        f"a Zero Trust admin must add an HTTP policy `Destination IP in {addresses}` → Do Not "
        "Inspect, above every inspect rule (client certificates and the cluster's CA do not "
        "survive inspection) — " + PLATFORM
    )
    if lint.unknown:
        names = ", ".join(repr(n) for n in lint.unknown)
        return warned(
            f"TLS decryption is on ({why}); policy lint cannot evaluate rule(s) {names}, which "
            "come before any Do Not Inspect rule for the API server: if they do not match it, "
            "its TLS is intercepted",
            fix,
            data,
        )
    if lint.inspect is not None:
        text = f"inspect rule {lint.inspect!r} matches the API server first"
    else:
        text = "no Do Not Inspect rule covers " + ", ".join(cluster.addresses)
    return failed(
        f"Gateway will decrypt the API server's TLS ({why}; {text}; policy lint)",
        fix,
        {
            **data,
            "cause": f"Gateway decrypts TLS to {', '.join(cluster.addresses)} ({why}) and no Do "
            "Not Inspect rule covers it",
        },
    )


@dataclass(frozen=True)
class Lint:
    do_not_inspect: str | None = None  # the first matching DNI rule
    inspect: str | None = None  # an inspect rule that matches first
    unknown: tuple[str, ...] = ()  # rules before the conclusion that cannot be evaluated

    def to_dict(self) -> dict[str, Any]:
        return {
            "doNotInspect": self.do_not_inspect,
            "inspect": self.inspect,
            "cannotEvaluate": list(self.unknown),
        }


def lint_http_rules(
    rules: Sequence[Mapping[str, Any]], addresses: Sequence[str], port: int
) -> Lint:
    """Walk enabled ``http`` rules in precedence order; the first ``off`` (Do Not Inspect)
    or ``on`` (inspect) rule that matches every address decides. A rule whose expression this
    lint cannot evaluate is remembered and named."""
    http_rules = [
        r
        for r in rules
        if r.get("enabled", True) is not False
        and "http" in (r.get("filters") or [])
        and r.get("action") in ("off", "on")
    ]
    http_rules.sort(key=lambda r: (_int(r.get("precedence")), str(r.get("name") or "")))
    unknown: list[str] = []
    for rule in http_rules:
        name = str(rule.get("name") or rule.get("id") or "?")
        verdicts = [_matches(str(rule.get("traffic") or ""), a, port) for a in addresses]
        if None in verdicts:
            unknown.append(name)
            continue
        if all(verdicts):
            if rule.get("action") == "off":
                return Lint(do_not_inspect=name, unknown=tuple(unknown))
            return Lint(inspect=name, unknown=tuple(unknown))
    return Lint(unknown=tuple(unknown))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 1 << 30


_IP_FIELDS = ("http.conn.dst_ip", "net.dst.ip")
_PORT_FIELDS = ("http.conn.dst_port", "net.dst.port")
_TERM = re.compile(
    r"^\s*(?P<field>[a-z_.]+)\s*(?P<op>==|!=|\bin\b)\s*(?P<value>\{[^}]*\}|\"[^\"]*\"|\S+)\s*$"
)


def _matches(expression: str, address: str, port: int) -> bool | None:
    """Whether a Gateway traffic expression matches a connection to ``address:port``; None
    when it uses anything beyond ``and``/``or`` of destination IP and port terms."""
    text = expression.strip()
    if not text:
        return True  # no traffic condition: the rule applies to everything
    if "(" in text or ")" in text or " not " in f" {text} ":
        return None
    alternatives = re.split(r"\s+or\s+", text)
    results = []
    for alternative in alternatives:
        terms = re.split(r"\s+and\s+", alternative)
        verdicts = [_term(t, address, port) for t in terms]
        if None in verdicts:
            return None
        results.append(all(verdicts))
    return any(results)


def _term(term: str, address: str, port: int) -> bool | None:
    found = _TERM.match(term)
    if found is None:
        return None
    name, op, raw = found["field"], found["op"], found["value"]
    values = raw.strip("{}").replace(",", " ").split() if raw.startswith("{") else [raw]
    values = [v.strip('"') for v in values]
    if name in _IP_FIELDS:
        ip = ipaddress.ip_address(address)
        hits = []
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                return None  # e.g. a $list reference
            hits.append(network.version == ip.version and ip in network)
        hit = any(hits)
    elif name in _PORT_FIELDS:
        try:
            hit = any(int(v) == port for v in values)
        except ValueError:
            return None
    else:
        return None
    if op == "==" and raw.startswith("{"):
        return None
    return (not hit) if op == "!=" else hit


# -- helpers -------------------------------------------------------------------------------


def _when(stamp: str) -> str:
    """``14:02 UTC`` today, else ``2026-03-01 14:02 UTC``; the raw text when unparsable."""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return stamp
    now = dt.datetime.now(dt.timezone.utc)
    if moment.date() == now.date():
        return moment.strftime("%H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


_CLUSTER_FUNCS: dict[str, Callable[..., Outcome]] = {
    "cf.route": check_route,
    "cf.tunnel": check_tunnel,
    "cf.split-tunnel": check_split_tunnel,
    "cf.inspection": check_inspection,
}
_NEEDS: dict[Callable[..., Outcome], Permission] = {
    check_device: Permission.ZERO_TRUST,
    check_gateway: Permission.ZERO_TRUST,
    check_route: Permission.NETWORKS,
    check_tunnel: Permission.TUNNELS,
    check_split_tunnel: Permission.ZERO_TRUST,
    check_inspection: Permission.ZERO_TRUST,
}


# -- root causes (used by diagnose) --------------------------------------------------------

SERVER_ROOT_ORDER = ("cf.device", "cf.gateway", "cf.split-tunnel", "cf.route", "cf.tunnel")


def server_root_cause(by_key: Mapping[str, Any], cluster: str, check_id: str) -> Any:
    """The failed cf.* result that explains a failed ``check_id`` of ``cluster`` (a path
    failure of cluster.tcp/tls/api, or cluster.tls meeting an inspection certificate)."""
    order = ("cf.inspection",) if check_id == "cluster.tls-inspection" else SERVER_ROOT_ORDER
    for root_id in order:
        key = root_id if root_id in GLOBAL_IDS else f"{root_id}@{cluster}"
        result = by_key.get(key)
        if result is not None and result.status == "fail" and result.data.get("cause"):
            return result
    return None


# -- setting up ---------------------------------------------------------------------------


def server_side(
    config: Any,
    env: Mapping[str, str],
    *,
    required: bool,
    timeout: float,
    device_id: Callable[[], str | None] | None = None,
) -> ServerSide:
    """The server side for a run: with an API client when a token and an account are
    configured; otherwise one whose checks are ``skip`` naming what is missing.
    ``required`` (``--server``): a missing token is :class:`AuthNeeded` (exit 4), a missing
    account id :class:`InvalidInput` (exit 3). A malformed ``api_url``/``account_id`` is
    always :class:`InvalidInput`."""
    from ztctl.core.cloudflare import (
        ACCOUNT_FIX,
        ADD_TOKEN_FIX,
        api_settings,
        make_api,
        resolve_token,
    )
    from ztctl.core.errors import AuthNeeded, InvalidInput

    settings = api_settings(config)
    token = resolve_token(env)
    if token is not None and token.problem is not None:
        # Never sent: cf.api fails with what is wrong (never the token), the others skip.
        return ServerSide(None, token.malformed, token.malformed_fix, broken=True)
    if token is None:
        if required:
            raise AuthNeeded(
                "there is no Cloudflare API token for the server-side checks", ADD_TOKEN_FIX
            )
        return ServerSide(
            None,
            "skipped: no Cloudflare API token (add one with `ztctl login --api-token`, or set "
            "ZTCTL_CF_API_TOKEN)",
            ADD_TOKEN_FIX,
        )
    if settings is None:
        if required:
            raise InvalidInput("cloudflare.account_id is not set", ACCOUNT_FIX)
        return ServerSide(
            None,
            "skipped: cloudflare.account_id is not set (`ztctl config set cloudflare.account_id "
            "ID`, or ZTCTL_CF_ACCOUNT_ID)",
            ACCOUNT_FIX,
        )
    api = make_api(settings, token.token, env, timeout=timeout)
    # Import httpx and build the client now, before the checks' clocks start: on a busy
    # machine the import alone can take half a second of every thread's time.
    api.warm()
    return ServerSide(api, device_id=device_id)
