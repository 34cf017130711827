"""The server-side checks (``cf.*``, docs/server-checks.md): what only Cloudflare's API can answer.

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
(:mod:`~ztctl.core.doctor.diagnose`) puts into the fix of the local failure it explains.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ztctl.adapters.cloudflare import ApiError, ApiErrorKind, Permission, is_zero_route
from ztctl.core.doctor.runner import Check, Outcome, failed, passed, skipped, warned
from ztctl.core.doctor.server_cluster import (
    PLATFORM,
    check_inspection,
    check_route,
    check_split_tunnel,
    check_tunnel,
    when_text,
)

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
    from ztctl.core.doctor.context import inner_timeout

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
    from ztctl.adapters.cloudflare import scrub

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
            from ztctl.adapters.cloudflare import scrub

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
            f"this device's registration was revoked ({when_text(revoked)})",
            "an admin revoked it, so Cloudflare drops its traffic: run `ztctl login` to enrol "
            "again; if it is revoked again, ask the Zero Trust admins why",
            {**data, "cause": f"this device's registration was revoked {when_text(revoked)}"},
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
        + (f", last seen {when_text(str(reg['last_seen_at']))}" if reg.get("last_seen_at") else ""),
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
    from ztctl.errors import AuthNeeded, InvalidInput

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
