"""``ztctl credential CLUSTER``: the kubectl exec credential plugin (docs/login.md).

This runs inside every kubectl call, so the keyring-hit path imports only the standard
library pieces it needs (``json``, ``base64``, ``time``) and the fast keyring reader — no
click, rich, httpx, kubernetes, yaml, platformdirs, dataclasses or ``keyring`` discovery.

1. Read ``KUBERNETES_EXEC_INFO``: echo its ``apiVersion`` (v1 or v1beta1), note
   ``spec.interactive``.
2. The token of the cluster from the OS keyring; if it is unexpired, answer with it.
3. Otherwise (slow path): load config and catalog, ask ``cloudflared access token`` (no
   browser) and keep a fitting token in the keyring. Still none: when the request is
   interactive (and ``--no-input``/``ZTCTL_NO_INPUT`` is not set), one browser login through
   ``cloudflared access login`` — one at a time across all kubectl processes, under a lock in
   the state directory; a waiting process reuses the token the first one got, and a login that
   just failed is not retried by the next process. Not interactive: :class:`AuthNeeded`,
   "run `ztctl login`" (exit 4).

Never prints: the caller writes :attr:`Credential.document` to stdout, and errors to stderr.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from ztctl.core.model import Cluster

API_V1 = "client.authentication.k8s.io/v1"
API_V1BETA1 = "client.authentication.k8s.io/v1beta1"
API_VERSIONS = (API_V1, API_V1BETA1)
# A token with less than this left is treated as expired (clock skew, request latency).
LEEWAY_S = 10.0
# After a browser login failed or was abandoned, other kubectl processes do not open
# another one for this long; they tell the user to run `ztctl login`.
LOGIN_COOLDOWN_S = 60.0
LOCK_NAME = "access-login.lock"
# Access sessions last at most a month; a token claiming a later expiry is not believed.
MAX_TOKEN_LIFETIME_S = 366 * 86400.0

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_NAME_ENDS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _valid_name(name: str) -> bool:
    """The catalog's name rule, ``[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?``, without ``re``."""
    return (
        0 < len(name) <= 63
        and name[0] in _NAME_ENDS
        and name[-1] in _NAME_ENDS
        and set(name) <= _NAME_CHARS
    )


class Credential:
    """The answer: one ExecCredential document (and what it says, for tests/logs)."""

    __slots__ = ("api_version", "document", "expires_at", "source")

    def __init__(self, api_version: str, token: str, expires_at: float | None, source: str):
        self.api_version = api_version
        self.expires_at = expires_at
        self.source = source  # keyring | cloudflared | browser
        status: dict[str, Any] = {"token": token}
        if expires_at is not None:
            status["expirationTimestamp"] = rfc3339(expires_at)
        self.document = json.dumps(
            {"apiVersion": api_version, "kind": "ExecCredential", "status": status},
            separators=(",", ":"),
        )


def rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


# ---------------------------------------------------------------------------------------
# Claims (unverified) and the fit check, shared with `ztctl login`


def token_claims(token: str) -> dict[str, Any] | None:
    """The JWT payload, unverified; ``None`` if ``token`` is not a JWT."""
    import base64

    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# JSON allows `Infinity` and huge numbers; a time claim outside years 1970-9999 is none.
_MAX_EPOCH = 253402300799.0
# Access signs with RS256; `none` and shared-secret (HS*) algorithms never come from it.
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    if not 0.0 <= number <= _MAX_EPOCH:  # also false for NaN
        return None
    return number


def token_header(token: str) -> dict[str, Any] | None:
    """The JOSE header, unverified; ``None`` if ``token`` is not a JWT."""
    import base64

    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[0]:
        return None
    segment = parts[0] + "=" * (-len(parts[0]) % 4)
    try:
        value = json.loads(base64.urlsafe_b64decode(segment.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def fast_path_problem(
    token: str, claims: Mapping[str, Any], *, team: str | None, now: float
) -> str | None:
    """Why the keyring copy may not be served without loading the catalog, or ``None``.

    On top of :func:`token_problem`: signed with an algorithm Access uses (never ``none``),
    and issued by the team's Access — so the team must be known here (from the config).
    """
    if not team:
        return "cannot be matched to a team without the catalog"
    header = token_header(token)
    alg = header.get("alg") if header else None
    # A header or claims of unexpected types (`"alg": ["RS256"]`) make a token unusable
    # like any other: refreshed, never a crash (a list is not even hashable).
    if not isinstance(alg, str) or alg not in SIGNING_ALGORITHMS:
        return f"is not signed the way Access signs tokens (alg {_shown(alg)})"
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        return "names no issuer (iss)" if issuer is None else "names an issuer (iss) that is no URL"
    return token_problem(claims, now=now, team=team)


def _shown(value: Any) -> str:
    """A claim's value for a message: a short quoted string, else its JSON type."""
    if isinstance(value, str):
        return repr(value[:20])
    return "null" if value is None else f"a JSON {_JSON_TYPES.get(type(value), 'value')}"


_JSON_TYPES = {list: "array", dict: "object", bool: "boolean", int: "number", float: "number"}


TEAMS_FILE = "access-teams.json"  # cluster -> team whose Access issued its token (no secrets)


def _remembered_team(env: Mapping[str, str], name: str) -> str | None:
    """The team the slow path last checked ``name``'s token against (catalog or config)."""
    from ztctl.adapters.fs import read_regular_file
    from ztctl.core.paths import state_dir

    try:
        data = json.loads(read_regular_file(state_dir(env) / TEAMS_FILE, 64 * 1024))
    except (OSError, ValueError):
        return None
    team = data.get(name) if isinstance(data, dict) else None
    return team if isinstance(team, str) and team else None


def _remember_team(env: Mapping[str, str], name: str, team: str | None) -> None:
    """Record the team for the fast path; best effort (the slow path still works without)."""
    if not team or _remembered_team(env, name) == team:
        return
    from ztctl.adapters.fs import atomic_write, ensure_private_dir, read_regular_file
    from ztctl.core.paths import state_dir

    directory = state_dir(env)
    try:
        try:
            data = json.loads(read_regular_file(directory / TEAMS_FILE, 64 * 1024))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data[name] = team
        ensure_private_dir(directory)
        atomic_write(directory / TEAMS_FILE, json.dumps(data).encode("utf-8"), mode=0o600)
    except OSError:
        pass


def _fast_team(env: Mapping[str, str], name: str) -> str | None:
    """The team a keyring token must come from, known without the catalog: the config's,
    else the one the slow path recorded for this cluster."""
    return _config_team(env) or _remembered_team(env, name)


def _config_team(env: Mapping[str, str]) -> str | None:
    """``team`` from the config file, read cheaply (tomllib only); ``None`` if unknown."""
    import tomllib

    from ztctl.adapters.fs import read_regular_file
    from ztctl.core.paths import config_path

    try:
        raw = read_regular_file(config_path(None, env), 1024 * 1024)
        team = tomllib.loads(raw.decode("utf-8")).get("team")
    except (OSError, ValueError):
        return None
    return team if isinstance(team, str) and team else None


def expires_at(claims: Mapping[str, Any]) -> float | None:
    return _number(claims, "exp")


def identity(claims: Mapping[str, Any]) -> str | None:
    for key in ("email", "common_name", "sub"):
        value = claims.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def token_problem(
    claims: Mapping[str, Any] | None,
    *,
    now: float,
    team: str | None = None,
    leeway: float = LEEWAY_S,
) -> str | None:
    """Why a token does not fit (a phrase), or ``None`` when it does.

    Fits: a JWT with an ``exp`` more than ``leeway`` ahead, already valid (``nbf``), an
    application token (``type`` app, when present) with a non-empty ``aud``, and — given the
    team — issued by the team's Access (``iss`` = ``https://<team>.cloudflareaccess.com``).
    """
    if claims is None:
        return "is not a JWT"
    exp = expires_at(claims)
    if exp is None:
        return "has no expiry (exp), or one that is not a time"
    if exp > now + MAX_TOKEN_LIFETIME_S:
        return f"claims to expire at {rfc3339(exp)}, later than any Access session"
    if exp <= now + leeway:
        return f"expired at {rfc3339(exp)}" if exp <= now else f"expires at {rfc3339(exp)}"
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf > now + 60:
        return f"is not valid before {rfc3339(nbf)} (check the device clock)"
    kind = claims.get("type")
    if kind is not None and kind != "app":
        if not isinstance(kind, str):
            return f"names a token type (type) that is no word ({_shown(kind)})"
        return f"is an Access {kind[:40]} token, not an application token"
    aud = claims.get("aud")
    if not (isinstance(aud, str) and aud) and not (
        isinstance(aud, list) and any(isinstance(a, str) and a for a in aud)
    ):
        return "names no audience (aud)"
    if team:
        expected = f"https://{team}.cloudflareaccess.com"
        issuer = claims.get("iss")
        if isinstance(issuer, str) and issuer.rstrip("/") != expected:
            return f"was issued by {issuer[:200]}, not by team {team!r} ({expected})"
    return None


# ---------------------------------------------------------------------------------------
# The plugin


def exec_request(env: Mapping[str, str]) -> tuple[str, bool]:
    """``(apiVersion, interactive)`` from ``KUBERNETES_EXEC_INFO`` (v1, not interactive,
    when run by hand without it)."""
    raw = env.get("KUBERNETES_EXEC_INFO")
    if not raw:
        return API_V1, False
    try:
        info = json.loads(raw)
    except ValueError:
        info = None
    if not isinstance(info, dict):
        from ztctl.errors import UsageError

        raise UsageError(
            "KUBERNETES_EXEC_INFO is not an ExecCredential JSON object",
            "let kubectl run `ztctl credential`; unset KUBERNETES_EXEC_INFO to run it by hand",
        )
    version = info.get("apiVersion") or API_V1
    if version not in API_VERSIONS:
        from ztctl.errors import UsageError

        raise UsageError(
            f"kubectl asked for ExecCredential {version}, which ztctl does not speak "
            f"(it answers {API_V1} and {API_V1BETA1})",
            "rewrite the kubeconfig entry with `ztctl use-cluster CLUSTER`",
        )
    spec = info.get("spec")
    interactive = isinstance(spec, dict) and spec.get("interactive") is True
    return str(version), interactive


def _truthy(value: str | None) -> bool:
    return bool(value) and str(value).lower() not in ("0", "false", "no", "off")


def get_credential(
    name: str,
    env: Mapping[str, str] | None = None,
    *,
    no_input: bool = False,
    notify: Callable[[str], None] | None = None,
    now: Callable[[], float] = time.time,
) -> Credential:
    """The ExecCredential for cluster ``name``. Raises ZtctlError subclasses."""
    env = os.environ if env is None else env
    if not _valid_name(name):
        from ztctl.errors import UsageError

        raise UsageError(
            f"{name!r} is not a cluster name", "pass the catalog name, e.g. `ztctl credential prod`"
        )
    api_version, interactive = exec_request(env)
    from ztctl.adapters.keyring import read_secret_fast

    token = read_secret_fast(name, env)
    if token:
        claims = token_claims(token)
        if (
            claims is not None
            and fast_path_problem(token, claims, team=_fast_team(env, name), now=now()) is None
        ):
            return Credential(api_version, token, expires_at(claims), "keyring")
    return _refresh(
        name,
        env,
        api_version=api_version,
        interactive=interactive and not no_input and not _truthy(env.get("ZTCTL_NO_INPUT")),
        had_token=bool(token),
        keyring_token=token,
        notify=notify or (lambda _message: None),
        now=now,
    )


LOGGED_OUT_MARKER = "logged-out"


def logged_out(state_dir: Path) -> bool:
    """Whether the user ran `ztctl logout` and has not logged in since."""
    return (state_dir / LOGGED_OUT_MARKER).exists()


def _refresh(
    name: str,
    env: Mapping[str, str],
    *,
    api_version: str,
    interactive: bool,
    had_token: bool,
    notify: Callable[[str], None],
    now: Callable[[], float],
    keyring_token: str | None = None,
) -> Credential:
    from ztctl.adapters import keyring
    from ztctl.adapters.cloudflared import Cloudflared
    from ztctl.core import config as config_mod
    from ztctl.errors import AuthNeeded

    if logged_out(config_mod.state_dir(env)):
        # cloudflared keeps its own copy of the token: without this, kubectl would go on
        # working after `ztctl logout`, which is not what logging out means.
        raise AuthNeeded(
            f"you logged out of ztctl, so cluster {name!r} has no Access token",
            "run `ztctl login` to use it again",
        )
    config = config_mod.load_config(config_mod.config_path(None, env), env)
    cluster, team = _access_cluster(name, config, env)
    app = cluster.credentials.app  # type: ignore[union-attr]
    cloudflared = Cloudflared(config.access.cloudflared, env=dict(env))

    if keyring_token:
        # The catalog is loaded now: the keyring copy is served if it is the team's.
        claims = token_claims(keyring_token)
        if (
            claims is not None
            and fast_path_problem(keyring_token, claims, team=team, now=now()) is None
        ):
            _remember_team(env, name, team)
            return _answer(api_version, keyring_token, "keyring")

    token = cloudflared.cached_token(app)
    problem = token_problem(token_claims(token), now=now(), team=team) if token else None
    if token and problem is None:
        keyring.set_secret(name, token)
        _remember_team(env, name, team)
        return _answer(api_version, token, "cloudflared")

    state = "expired" if had_token else "missing"
    if not interactive:
        raise AuthNeeded(
            f"the Access token for cluster {name!r} is {state}"
            + (f" (cloudflared's token {problem})" if token and problem else ""),
            "run `ztctl login` in a terminal",
        )
    return _browser_login(
        name,
        app,
        team,
        cloudflared,
        config_mod.state_dir(env),
        api_version=api_version,
        notify=notify,
        now=now,
    )


def _access_cluster(name: str, config: Any, env: Mapping[str, str]) -> tuple[Cluster, str | None]:
    from ztctl.core.catalog import load_catalog
    from ztctl.core.config import state_dir
    from ztctl.core.model import AccessToken
    from ztctl.errors import InvalidInput

    source = env.get("ZTCTL_CATALOG") or config.catalog
    if not source:
        raise InvalidInput(
            "no cluster catalog is configured, so ztctl cannot tell which Access application "
            f"serves {name!r}",
            f'set `catalog = "..."` in {config.path} (or ZTCTL_CATALOG)',
        )
    catalog = load_catalog(source, state_dir(env), env)
    cluster = catalog.get(name)
    if cluster is None:
        from ztctl.core.redact import hide_passwords

        raise InvalidInput(
            f"no cluster named {name!r} in the catalog {hide_passwords(catalog.source)}",
            "run `ztctl clusters` to list them, and `ztctl use-cluster NAME` to rewrite the "
            "kubeconfig entry",
        )
    if not isinstance(cluster.credentials, AccessToken):
        raise InvalidInput(
            f"cluster {name!r} does not use Access tokens (its credentials are "
            f"{cluster.credentials.kind}), yet its kubeconfig entry runs `ztctl credential`",
            f"rewrite the entry with `ztctl use-cluster {name}`",
        )
    return cluster, config.team or catalog.team


def _answer(api_version: str, token: str, source: str) -> Credential:
    claims = token_claims(token) or {}
    return Credential(api_version, token, expires_at(claims), source)


def _browser_login(
    name: str,
    app: str,
    team: str | None,
    cloudflared: Any,
    state: Path,
    *,
    api_version: str,
    notify: Callable[[str], None],
    now: Callable[[], float],
) -> Credential:
    from ztctl.adapters import keyring
    from ztctl.adapters.cloudflared import LOGIN_TIMEOUT_S
    from ztctl.errors import AuthNeeded

    with login_lock(state, timeout=LOGIN_TIMEOUT_S + 30, notify=notify) as lock:
        # Another kubectl may have finished a login while we waited.
        token = keyring.get_secret(name)
        if token and token_problem(token_claims(token), now=now(), team=team) is None:
            return _answer(api_version, token, "keyring")
        failed_at = lock.last_failure(app)
        if failed_at is not None and now() - failed_at < LOGIN_COOLDOWN_S:
            raise AuthNeeded(
                f"a browser login for cluster {name!r} failed or was abandoned "
                f"{now() - failed_at:.0f} s ago; not opening another",
                "run `ztctl login` in a terminal",
            )
        try:
            token = cloudflared.browser_login(app)
        except BaseException:
            lock.record_failure(app, now())
            raise
        problem = token_problem(token_claims(token), now=now(), team=team)
        if problem is not None:
            lock.record_failure(app, now())
            raise AuthNeeded(
                f"cloudflared returned an Access token for cluster {name!r} that {problem}",
                "check the device clock and the catalog's team, then run `ztctl login`",
            )
        keyring.set_secret(name, token)
        lock.clear_failure(app)
        return _answer(api_version, token, "browser")


class _LoginLock:
    """An exclusive ``fcntl`` lock on ``<state>/access-login.lock``; the file records when a
    browser login last failed, per application URL (JSON; no secrets)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def _read(self) -> dict[str, float]:
        os.lseek(self.fd, 0, os.SEEK_SET)
        raw = b""
        while chunk := os.read(self.fd, 65536):
            raw += chunk
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            return {}
        return {k: float(v) for k, v in data.items() if isinstance(v, (int, float))}

    def _write(self, data: dict[str, float]) -> None:
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, json.dumps(data).encode())

    def last_failure(self, app: str) -> float | None:
        return self._read().get(app)

    def record_failure(self, app: str, when: float) -> None:
        data = self._read()
        data[app] = when
        self._write(data)

    def clear_failure(self, app: str) -> None:
        data = self._read()
        if data.pop(app, None) is not None:
            self._write(data)


class login_lock:
    """Hold the one browser-login lock of this user; wait (with a timeout) while another
    process holds it."""

    def __init__(self, state: Path, *, timeout: float, notify: Callable[[str], None]) -> None:
        self.state = state
        self.timeout = timeout
        self.notify = notify
        self.fd = -1

    def __enter__(self) -> _LoginLock:
        import fcntl

        from ztctl.adapters.fs import ensure_private_dir
        from ztctl.errors import AuthNeeded

        ensure_private_dir(self.state)
        self.fd = os.open(self.state / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        told = False
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return _LoginLock(self.fd)
            except BlockingIOError:
                if not told:
                    self.notify(
                        "ztctl: another process is logging in to Cloudflare Access; waiting "
                        "for it instead of opening another browser window"
                    )
                    told = True
                if time.monotonic() > deadline:
                    os.close(self.fd)
                    raise AuthNeeded(
                        "another ztctl process has been logging in to Cloudflare Access for "
                        f"{self.timeout:.0f} s",
                        "finish or close that login, then run `ztctl login`",
                    ) from None
                time.sleep(0.2)

    def __exit__(self, *_exc: object) -> None:
        import fcntl

        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
