"""``ztctl status``: team, device registration, WARP state, identity and token expiry, the
current context and active break-glass sessions — read only, nothing is changed.

Each part is gathered on its own; one that cannot be read (no warp-cli, daemon down, no
keyring, a malformed kubeconfig) carries an ``error`` instead of failing the whole status.
Break-glass sessions are listed with :func:`ztctl.core.breakglass.list_sessions` (it reads
the session files; expired ones are left for ``break-glass status`` to reap and audit).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.core.credential import expires_at, identity, rfc3339, token_claims, token_problem
from ztctl.errors import ZtctlError

if TYPE_CHECKING:
    from ztctl.adapters.warp import WarpClient
    from ztctl.core.config import Config
    from ztctl.core.model import Catalog


def _error(exc: Exception) -> dict[str, str]:
    if isinstance(exc, ZtctlError):
        return {"message": exc.message, "fix": exc.fix}
    return {"message": f"{type(exc).__name__}: {exc}", "fix": ""}


@dataclass(frozen=True)
class WarpView:
    version: str | None = None
    registered: bool | None = None
    organization: str | None = None
    account_type: str | None = None
    device_id: str | None = None
    state: str | None = None
    reason: str | None = None
    mode: str | None = None
    routes_private: bool | None = None
    error: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "registered": self.registered,
            "organization": self.organization,
            "accountType": self.account_type,
            "deviceId": self.device_id,
            "state": self.state,
            "reason": self.reason,
            "mode": self.mode,
            "routesPrivate": self.routes_private,
            "error": self.error,
        }


@dataclass(frozen=True)
class TokenView:
    cluster: str
    present: bool
    identity: str | None = None
    expires_at: float | None = None
    problem: str | None = None  # why it does not fit (expired...), None when valid

    @property
    def valid(self) -> bool:
        return self.present and self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "present": self.present,
            "valid": self.valid,
            "identity": self.identity,
            "expiresAt": rfc3339(self.expires_at) if self.expires_at else None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class StatusResult:
    team: str | None
    warp: WarpView
    tokens: tuple[TokenView, ...] = ()
    tokens_error: dict[str, str] | None = None
    current_context: str | None = None
    context_cluster: str | None = None  # the catalog cluster the current context reaches
    context_error: dict[str, str] | None = None
    # what of ztctl's entry for context_cluster the catalog has changed since (empty: none)
    context_stale: tuple[str, ...] = ()
    break_glass: tuple[dict[str, Any], ...] = ()
    break_glass_strays: tuple[dict[str, Any], ...] = ()  # session files that cannot be read
    catalog_error: dict[str, str] | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def identity(self) -> str | None:
        return next((t.identity for t in self.tokens if t.valid and t.identity), None)

    @property
    def login_needed(self) -> list[str]:
        """Why ``ztctl login`` is needed (empty: it is not); ``status`` then exits 4."""
        reasons = []
        if self.warp.error is None and self.warp.registered is False:
            reasons.append("this device is not enrolled in Zero Trust")
        elif (
            self.warp.error is None
            and self.team
            and self.warp.organization
            and self.warp.organization != self.team
        ):
            reasons.append(
                f"this device is enrolled in team {self.warp.organization!r}, not {self.team!r}"
            )
        for token in self.tokens:
            if not token.valid:
                reasons.append(f"the Access token for {token.cluster} is {token.problem}")
        return reasons

    @property
    def fix(self) -> str | None:
        return "run `ztctl login`" if self.login_needed else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "warp": self.warp.to_dict(),
            "identity": self.identity,
            "tokens": [t.to_dict() for t in self.tokens],
            "tokensError": self.tokens_error,
            "currentContext": self.current_context,
            "contextCluster": self.context_cluster,
            "contextError": self.context_error,
            "contextStaleFields": list(self.context_stale),
            "breakGlass": list(self.break_glass),
            "breakGlassStrays": list(self.break_glass_strays),
            "catalogError": self.catalog_error,
            "loginNeeded": bool(self.login_needed),
            "loginReasons": self.login_needed,
            "fix": self.fix,
        }


def warp_view(client: WarpClient) -> WarpView:
    values: dict[str, Any] = {}
    try:
        values["version"] = str(client.version())
        registration = client.registration()
        values["registered"] = registration is not None
        if registration is not None:
            values["organization"] = registration.organization
            values["account_type"] = registration.account_type
            values["device_id"] = registration.device_id
        status = client.status()
        values["state"] = status.state
        values["reason"] = status.reason
        settings = client.settings()
        values["mode"] = settings.mode
        values["routes_private"] = settings.routes_private
    except Exception as exc:
        values["error"] = _error(exc)
    return WarpView(**values)


def token_views(
    catalog: Catalog, team: str | None, now: float
) -> tuple[tuple[TokenView, ...], dict[str, str] | None]:
    from ztctl.adapters import keyring
    from ztctl.core.model import AccessToken

    views: list[TokenView] = []
    for cluster in catalog.clusters:
        if not isinstance(cluster.credentials, AccessToken):
            continue
        try:
            token = keyring.get_secret(cluster.name)
        except ZtctlError as exc:
            return tuple(views), _error(exc)
        if not token:
            views.append(TokenView(cluster.name, present=False, problem="missing"))
            continue
        claims = token_claims(token)
        views.append(
            TokenView(
                cluster.name,
                present=True,
                identity=identity(claims) if claims else None,
                expires_at=expires_at(claims) if claims else None,
                problem=token_problem(claims, now=now, team=team, leeway=0),
            )
        )
    return tuple(views), None


def gather_status(
    config: Config,
    catalog: Catalog | None,
    state_dir: Path,
    *,
    kubeconfig: str | None = None,
    env: Mapping[str, str] | None = None,
    catalog_error: ZtctlError | None = None,
    warp: WarpClient | None = None,
) -> StatusResult:
    from ztctl.adapters.warp import WarpClient

    team = config.team or (catalog.team if catalog else None)
    client = warp or WarpClient(config.warp.cli, env=dict(env) if env is not None else None)
    warp_part = warp_view(client)

    tokens: tuple[TokenView, ...] = ()
    tokens_error = None
    if catalog is not None:
        tokens, tokens_error = token_views(catalog, team, time.time())

    current = cluster_name = None
    context_error = None
    stale: tuple[str, ...] = ()
    try:
        from ztctl.core.kubeconfig.model import load_kubeconfig

        loaded = load_kubeconfig(kubeconfig, env)
        current = loaded.current_context or None
        if catalog is not None and current:
            found = loaded.catalog_cluster(catalog)
            cluster_name = found.name if found else None
            if found is not None:
                from ztctl.core.clusters import stale_entry

                stale = stale_entry(loaded, found) or ()
    except ZtctlError as exc:
        context_error = _error(exc)

    return StatusResult(
        team=team,
        warp=warp_part,
        tokens=tokens,
        tokens_error=tokens_error,
        current_context=current,
        context_cluster=cluster_name,
        context_error=context_error,
        context_stale=stale,
        break_glass=_active_sessions(state_dir),
        break_glass_strays=_stray_files(state_dir),
        catalog_error=_error(catalog_error) if catalog_error else None,
    )


def _active_sessions(state_dir: Path) -> tuple[dict[str, Any], ...]:
    from ztctl.core.breakglass.session import list_sessions
    from ztctl.core.catalog_parse import hide_passwords

    now = time.time()
    views = []
    for s in list_sessions(state_dir):
        if s.state == "active" and s.remaining(now) > 0:
            view = dict(s.view(now))
            for key, value in view.items():
                if isinstance(value, str):
                    view[key] = hide_passwords(value)  # a proxy URL's password stays private
            views.append(view)
    return tuple(views)


def _stray_files(state_dir: Path) -> tuple[dict[str, Any], ...]:
    """Session files that cannot be read: each may stand for a route still open."""
    from ztctl.core.breakglass.session import list_strays

    return tuple(stray.to_dict() for stray in list_strays(state_dir))
