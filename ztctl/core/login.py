"""``ztctl login`` and ``ztctl logout``: enrol, connect, check the mode, keep Access tokens.

:func:`login` walks the steps in order and returns a :class:`LoginResult` with one
:class:`Step` per thing it looked at — ``ok`` (already so), ``changed`` (it did something),
``fail`` (a problem it explains but cannot fix, e.g. a mode that does not route private
networks). When a person must act and may not (``--no-input`` / no TTY), or the device is in
another team, it raises :class:`~ztctl.errors.AuthNeeded` (exit 4) naming the URL.

Idempotent: with everything in place every step is ``ok`` and nothing is written except
the audit event. Tokens go only to the OS keyring (:mod:`ztctl.adapters.keyring`); the state
directory keeps just the *names* of the clusters that have one (``tokens.json``), so that
``logout`` can remove tokens of clusters that left the catalog.

Core: no printing; progress goes through the ``on_event`` callback.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.core.credential import (
    LOGGED_OUT_MARKER,
    expires_at,
    identity,
    login_lock,
    rfc3339,
    token_claims,
    token_problem,
)
from ztctl.errors import AuthNeeded, InvalidInput, OperationFailed, ZtctlError

ENROL_TIMEOUT_S = 180.0
CONNECT_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.5
# A kept token with less than this left is renewed by `login` (so kubectl does not hit the
# refresh path right after a login).
RENEW_BEFORE_S = 300.0
TOKEN_INDEX = "tokens.json"  # noqa: S105 - cluster names only, never a token

# on_event(kind, text): kind "progress" (spinner text), "action" (the user must do this:
# always shown), "info".
EventSink = Callable[[str, str], None]

if TYPE_CHECKING:
    from ztctl.adapters.cloudflared import Cloudflared
    from ztctl.adapters.warp import WarpClient
    from ztctl.core.config import Config
    from ztctl.core.model import Catalog


@dataclass(frozen=True)
class Step:
    name: str  # warp-cli | registration | connection | mode | token
    status: str  # ok | changed | fail
    summary: str
    fix: str = ""
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "summary": self.summary,
            "fix": self.fix,
            "cluster": self.cluster,
        }


@dataclass(frozen=True)
class TokenInfo:
    cluster: str
    identity: str | None
    expires_at: float | None
    source: str  # keyring | cloudflared | browser
    changed: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "identity": self.identity,
            "expiresAt": rfc3339(self.expires_at) if self.expires_at else None,
            "source": self.source,
            "changed": self.changed,
        }


@dataclass(frozen=True)
class LoginResult:
    team: str
    warp_version: str | None
    steps: tuple[Step, ...]
    tokens: tuple[TokenInfo, ...] = ()
    team_source: str = "option"  # option | config | catalog | warp | mdm

    @property
    def changed(self) -> bool:
        return any(step.status == "changed" for step in self.steps)

    @property
    def ok(self) -> bool:
        return not any(step.status == "fail" for step in self.steps)

    @property
    def identity(self) -> str | None:
        return next((t.identity for t in self.tokens if t.identity), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "changed": self.changed,
            "team": self.team,
            "teamSource": self.team_source,
            "identity": self.identity,
            "warpVersion": self.warp_version,
            "steps": [s.to_dict() for s in self.steps],
            "tokens": [t.to_dict() for t in self.tokens],
        }


@dataclass(frozen=True)
class LoginRequest:
    config: Config
    catalog: Catalog | None
    state_dir: Path
    team: str | None = None  # --team
    interactive: bool = False
    no_browser: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    enrol_timeout: float = ENROL_TIMEOUT_S
    connect_timeout: float = CONNECT_TIMEOUT_S
    poll_interval: float = POLL_INTERVAL_S


def enrol_url(team: str) -> str:
    """Where a person logs in to enrol a device."""
    return f"https://{team}.cloudflareaccess.com/warp"


def resolve_team(
    request: LoginRequest, discover: Callable[[], tuple[str, str] | None] | None = None
) -> tuple[str, str]:
    """The team to log in to and where it came from.

    In order: ``--team`` ("option"), the config ("config"), the catalog ("catalog"), then
    ``discover`` — what WARP already knows ("warp": its registration; "mdm": its MDM file).
    """
    for team, source in (
        (request.team, "option"),
        (request.config.team, "config"),
        (request.catalog.team if request.catalog else None, "catalog"),
    ):
        if team:
            return team, source
    found = discover() if discover is not None else None
    if found is not None:
        return found
    raise InvalidInput(
        "no Zero Trust team is configured, and WARP is not enrolled in one",
        "pass --team TEAM (saved once login succeeds), or run `ztctl config set team TEAM`",
    )


def discover_team(client: WarpClient, env: Mapping[str, str]) -> tuple[str, str] | None:
    """The team WARP itself names: its registration, else its MDM file."""
    registration = client.registration()
    if registration is not None and registration.is_team and registration.organization:
        return registration.organization, "warp"
    team = _team_from_mdm(env)
    return (team, "mdm") if team else None


def _team_from_mdm(env: Mapping[str, str]) -> str | None:
    """The ``organization`` WARP's MDM file names (mdm.xml, or the macOS managed plist)."""
    from ztctl.adapters.mdm import team_from_mdm

    return team_from_mdm()


def _ignore(_kind: str, _text: str) -> None:
    pass


def _env_for_children(request: LoginRequest) -> dict[str, str]:
    env = dict(request.env)
    if request.no_browser or not request.interactive:
        env["BROWSER"] = "true"  # xdg-open honours $BROWSER: print URLs, open nothing
    return env


def login(
    request: LoginRequest,
    *,
    on_event: EventSink = _ignore,
    warp: WarpClient | None = None,
    cloudflared: Cloudflared | None = None,
) -> LoginResult:
    from ztctl.adapters.cloudflared import Cloudflared
    from ztctl.adapters.warp import WarpClient
    from ztctl.core import audit

    env = _env_for_children(request)
    client = warp or WarpClient(request.config.warp.cli, env=env)
    team, team_source = resolve_team(request, lambda: discover_team(client, request.env))
    # Logging in lifts a previous `ztctl logout`: kubectl may refresh tokens again.
    (request.state_dir / LOGGED_OUT_MARKER).unlink(missing_ok=True)
    steps: list[Step] = []

    on_event("progress", "Looking for warp-cli")
    version = str(client.version())
    steps.append(Step("warp-cli", "ok", f"warp-cli {version} at {client.executable()}"))
    steps.append(_ensure_enrolled(client, team, request, on_event))
    steps.append(_ensure_connected(client, request, on_event))
    steps.append(_check_mode(client, on_event))

    tokens: list[TokenInfo] = []
    access = _access_clusters(request.catalog)
    if access:
        tool = cloudflared or Cloudflared(request.config.access.cloudflared, env=env)
        try:
            for name, app in access:
                info = _ensure_token(name, app, team, tool, request, on_event)
                tokens.append(info)
                steps.append(_token_step(info))
        except ZtctlError as error:
            # A token that needs a person must not hide what already failed (a wrong mode).
            for step in steps:
                if step.status == "fail":
                    error.details.append(f"also: {step.summary}; fix: {step.fix}")
            raise
        _remember_tokens(request.state_dir, [t.cluster for t in tokens])

    result = LoginResult(team, version, tuple(steps), tuple(tokens), team_source)
    audit.record(
        request.state_dir,
        "login",
        team=team,
        identity=result.identity,
        changed=[
            s.name if s.cluster is None else f"{s.name}:{s.cluster}"
            for s in steps
            if s.status == "changed"
        ],
        ok=result.ok,
    )
    return result


# -- WARP ---------------------------------------------------------------------------------


def _ensure_enrolled(
    client: WarpClient, team: str, request: LoginRequest, on_event: EventSink
) -> Step:
    on_event("progress", "Checking the device's registration")
    registration = client.registration()
    if registration is not None:
        if registration.is_team and registration.organization == team:
            device = f" (device {registration.device_id})" if registration.device_id else ""
            return Step("registration", "ok", f"enrolled in team {team!r}{device}")
        where = (
            f"team {registration.organization!r}"
            if registration.is_team and registration.organization
            else f"a {registration.account_type} WARP registration"
        )
        raise AuthNeeded(
            f"this device is enrolled in {where}, not in team {team!r}",
            "if you mean to move it, run `warp-cli registration delete` (`warp-cli delete` on "
            "clients before 2024.2), then `ztctl login`; otherwise pass the right --team",
        )

    url = enrol_url(team)
    if not request.interactive:
        raise AuthNeeded(
            f"this device is not enrolled in Zero Trust team {team!r}; a person must log in at "
            f"{url}",
            "run `ztctl login` in a terminal (it opens the browser and waits), or open the URL, "
            "log in, and pass the `com.cloudflare.warp://...` link of the success page to "
            "`warp-cli registration token`",
        )
    on_event("progress", f"Enrolling this device in team {team!r}")
    enrolment = client.register(team)
    on_event(
        "action",
        f"Log in to enrol this device in team {team!r}"
        + (
            ": open this URL in a browser:"
            if request.no_browser
            else " (a browser window should open; if it does not, open this URL):"
        )
        + f"\n\n  {enrolment.url or url}\n",
    )
    deadline = time.monotonic() + request.enrol_timeout
    while True:
        on_event("progress", f"Waiting for the enrolment in team {team!r} (log in in the browser)")
        registration = client.registration()
        if registration is not None and registration.organization == team:
            device = f" (device {registration.device_id})" if registration.device_id else ""
            return Step("registration", "changed", f"enrolled in team {team!r}{device}")
        if time.monotonic() >= deadline:
            raise AuthNeeded(
                f"the enrolment in team {team!r} did not finish within {request.enrol_timeout:g} s",
                f"finish the login at {enrolment.url or url} (or pass the success page's "
                "`com.cloudflare.warp://...` link to `warp-cli registration token`), then run "
                "`ztctl login` again",
            )
        time.sleep(request.poll_interval)


def _ensure_connected(client: WarpClient, request: LoginRequest, on_event: EventSink) -> Step:
    on_event("progress", "Checking the WARP connection")
    status = client.status()
    if status.connected:
        return Step("connection", "ok", "WARP is connected")
    on_event("progress", "Connecting WARP")
    client.connect()
    deadline = time.monotonic() + request.connect_timeout
    while True:
        status = client.status()
        if status.connected:
            return Step("connection", "changed", "WARP connected")
        if time.monotonic() >= deadline:
            reason = f" ({status.reason})" if status.reason else ""
            raise OperationFailed(
                f"WARP did not connect within {request.connect_timeout:g} s: it is "
                f"{status.state}{reason}",
                "run `warp-cli status` to see why; check the network (captive portal, "
                "firewall), then run `ztctl login` again",
            )
        on_event("progress", f"Waiting for WARP to connect ({status.state})")
        time.sleep(request.poll_interval)


def _check_mode(client: WarpClient, on_event: EventSink) -> Step:
    from ztctl.adapters.warp import MODE_DESCRIPTIONS

    on_event("progress", "Checking the WARP mode")
    settings = client.settings()
    described = MODE_DESCRIPTIONS.get(settings.mode, settings.mode)
    shown = settings.mode_text or settings.mode
    if settings.routes_private:
        return Step("mode", "ok", f"WARP mode {shown} ({described}) routes private networks")
    old = "" if client.new_names else "set-"
    fix = f"switch to Gateway with WARP: `warp-cli {old}mode warp`"
    if settings.switch_locked:
        fix = (
            "the mode is locked by the device profile: ask the Zero Trust administrators to "
            "use Gateway with WARP (or Secure Web Gateway without DNS filtering)"
        )
    if settings.routes_private is None:
        return Step(
            "mode",
            "fail",
            f"WARP is in a mode ztctl does not know ({shown}); kubectl may not reach the clusters",
            fix,
        )
    return Step(
        "mode",
        "fail",
        f"WARP is in {described} ({shown}), which does not send private networks into the "
        "tunnel: kubectl cannot reach the clusters",
        fix,
    )


# -- Access tokens ----------------------------------------------------------------------


def _access_clusters(catalog: Catalog | None) -> list[tuple[str, str]]:
    from ztctl.core.model import AccessToken

    if catalog is None:
        return []
    return [
        (c.name, c.credentials.app)
        for c in catalog.clusters
        if isinstance(c.credentials, AccessToken)
    ]


def _info(name: str, token: str, source: str, changed: bool) -> TokenInfo:
    claims = token_claims(token) or {}
    return TokenInfo(name, identity(claims), expires_at(claims), source, changed)


def _fits(token: str | None, team: str, *, leeway: float) -> str | None:
    if not token:
        return "is missing"
    return token_problem(token_claims(token), now=time.time(), team=team, leeway=leeway)


def _ensure_token(
    name: str,
    app: str,
    team: str,
    cloudflared: Cloudflared,
    request: LoginRequest,
    on_event: EventSink,
) -> TokenInfo:
    from ztctl.adapters import keyring

    on_event("progress", f"Checking the Access token for {name}")
    kept = keyring.get_secret(name)
    if kept and _fits(kept, team, leeway=RENEW_BEFORE_S) is None:
        return _info(name, kept, "keyring", changed=False)

    token = cloudflared.cached_token(app)
    problem = _fits(token, team, leeway=RENEW_BEFORE_S) if token else None
    if token and problem is None:
        keyring.set_secret(name, token)
        return _info(name, token, "cloudflared", changed=token != kept)

    if not request.interactive:
        raise AuthNeeded(
            f"there is no valid Access token for cluster {name!r}; a person must log in to {app}",
            "run `ztctl login` in a terminal (it opens the browser), or "
            f"`cloudflared access login {app}` and then `ztctl login --no-input`",
        )
    on_event("progress", f"Logging in to Cloudflare Access for {name} (see the browser)")
    with login_lock(
        request.state_dir,
        timeout=cloudflared_login_timeout() + 30,
        notify=lambda text: on_event("info", text),
    ):
        token = cloudflared.browser_login(app, no_browser=request.no_browser)
    problem = _fits(token, team, leeway=0)
    if problem is not None:
        raise AuthNeeded(
            f"cloudflared returned an Access token for cluster {name!r} that {problem}",
            "check the device clock and the catalog's team, then run `ztctl login` again",
        )
    keyring.set_secret(name, token)
    return _info(name, token, "browser", changed=True)


def cloudflared_login_timeout() -> float:
    from ztctl.adapters.cloudflared import LOGIN_TIMEOUT_S

    return LOGIN_TIMEOUT_S


def _token_step(info: TokenInfo) -> Step:
    who = info.identity or "unknown identity"
    until = f", valid until {rfc3339(info.expires_at)}" if info.expires_at else ""
    verb = "obtained" if info.changed else "kept"
    return Step(
        "token",
        "changed" if info.changed else "ok",
        f"Access token {verb} for {who}{until}",
        cluster=info.cluster,
    )


def _index_path(state_dir: Path) -> Path:
    return state_dir / TOKEN_INDEX


def remembered_tokens(state_dir: Path) -> list[str]:
    """Names of the clusters ztctl has stored a token for (no secrets here)."""
    from ztctl.adapters.fs import NotRegularFile, TooLarge, read_regular_text

    try:  # a list of names: 1 MiB is thousands of clusters
        data = json.loads(read_regular_text(_index_path(state_dir), 1024 * 1024))
    except (FileNotFoundError, NotRegularFile, TooLarge, ValueError):
        return []
    names = data.get("clusters") if isinstance(data, dict) else None
    return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []


def _remember_tokens(state_dir: Path, names: Sequence[str]) -> None:
    from ztctl.adapters.fs import atomic_write, ensure_private_dir

    known = remembered_tokens(state_dir)
    merged = sorted(set(known) | set(names))
    if merged == sorted(known):
        return  # idempotent: nothing to write
    ensure_private_dir(state_dir)
    atomic_write(_index_path(state_dir), json.dumps({"clusters": merged}).encode(), mode=0o600)


# -- logout -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LogoutResult:
    removed: tuple[str, ...]
    disconnected: bool | None  # None: not asked

    @property
    def changed(self) -> bool:
        return bool(self.removed) or bool(self.disconnected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "removed": list(self.removed),
            "disconnected": self.disconnected,
        }


def logout(
    state_dir: Path,
    catalog: Catalog | None,
    *,
    disconnect: bool = False,
    config: Config | None = None,
    env: Mapping[str, str] | None = None,
    warp: WarpClient | None = None,
    also_removed: Sequence[str] = (),
) -> LogoutResult:
    """Remove every token ztctl stored (and disconnect WARP on request); audited.
    ``also_removed``: keyring items the caller removed (the Cloudflare API token), for the
    audit event."""
    from ztctl.adapters import keyring
    from ztctl.adapters.fs import atomic_write, ensure_private_dir
    from ztctl.core import audit

    names = sorted(set(remembered_tokens(state_dir)) | {n for n, _ in _access_clusters(catalog)})
    removed: tuple[str, ...] = ()
    try:
        removed = tuple(name for name in names if keyring.delete_secret(name))
    except keyring.KeyringUnavailable:
        # No keyring (a headless machine, a container): ztctl never stored a token, so there
        # is nothing to remove; logging out still works (and still disconnects on request).
        removed = ()
    if _index_path(state_dir).exists():
        atomic_write(_index_path(state_dir), json.dumps({"clusters": []}).encode(), mode=0o600)
    disconnected: bool | None = None
    if disconnect:
        from ztctl.adapters.warp import WarpClient

        cli = config.warp.cli if config is not None else "warp-cli"
        client = warp or WarpClient(cli, env=dict(env) if env is not None else None)
        was_connected = client.status().connected
        if was_connected:
            client.disconnect()
        disconnected = was_connected
    ensure_private_dir(state_dir)
    atomic_write(state_dir / LOGGED_OUT_MARKER, b"", mode=0o600)
    audit.record(state_dir, "logout", removed=[*removed, *also_removed], disconnected=disconnected)
    return LogoutResult(removed, disconnected)
