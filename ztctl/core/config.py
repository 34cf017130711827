"""ztctl's configuration file (docs/configuration.md): TOML, platform paths, environment
overrides.

A missing file means defaults. A present but broken one is an :class:`InvalidInput` that
names the file, the key and the fix, with every problem listed at once.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ztctl.core.paths import (  # re-exported: the config's own API since the beginning
    APP_NAME,
    config_path,
    default_config_path,
    default_state_dir,
    state_dir,
)
from ztctl.core.suggest import did_you_mean
from ztctl.errors import InvalidInput

__all__ = [
    "APP_NAME",
    "KEYS",
    "SCHEMA",
    "AccessConfig",
    "CloudflareConfig",
    "Config",
    "DoctorConfig",
    "WarpConfig",
    "check_value",
    "config_path",
    "default_config_path",
    "default_state_dir",
    "load_config",
    "redact",
    "state_dir",
]


def default_warp_interface() -> str:
    if sys.platform == "darwin":
        return "utun"  # macOS: one of the utunN, told apart by its addresses (routes.py)
    return "CloudflareWARP"


@dataclass(frozen=True)
class WarpConfig:
    cli: str = "warp-cli"
    interface: str = field(default_factory=default_warp_interface)
    trace_url: str = "https://www.cloudflare.com/cdn-cgi/trace"


@dataclass(frozen=True)
class AccessConfig:
    cloudflared: str = "cloudflared"


@dataclass(frozen=True)
class DoctorConfig:
    timeout: float = 3.0


@dataclass(frozen=True)
class CloudflareConfig:
    """The Cloudflare API for the server-side checks (the token itself is in the keyring)."""

    account_id: str | None = None
    api_url: str = "https://api.cloudflare.com/client/v4"


@dataclass(frozen=True)
class Config:
    path: Path
    exists: bool
    team: str | None = None
    catalog: str | None = None
    warp: WarpConfig = field(default_factory=WarpConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    doctor: DoctorConfig = field(default_factory=DoctorConfig)
    cloudflare: CloudflareConfig = field(default_factory=CloudflareConfig)


# ---------------------------------------------------------------------------------------
# The schema: every key's whole rule, in one place. The loader (below) and `ztctl config
# set` (core/config_edit.py) both check a value with :func:`check_value`, so a value one
# accepts the other accepts too.

TIMEOUT_MIN_S = 0.1
TIMEOUT_MAX_S = 600.0
# Cloudflare team names are the first label of <team>.cloudflareaccess.com.
_TEAM = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
# `scheme://user:password@`: everything from the first colon of the user part to the last
# `@` is hidden (over-hiding a path in an odd URL is fine; showing a password is not).
_USERINFO_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:@/?#\s]*):\S*@")
_QUOTE_LIMIT = 80

# What is wrong with a value (one sentence, starting with the key) and its fix; or None.
ValueProblem = tuple[str, str]
Rule = Callable[[Any], "ValueProblem | None"]


@dataclass(frozen=True)
class Key:
    """One config key: its type, its rule, an example of a good value, its variable."""

    name: str  # dotted: "team", "doctor.timeout"
    kind: type  # str or float
    example: str  # a valid value, as typed after `ztctl config set KEY`
    rule: Rule | None = None  # beyond the type (a non-empty string, a number)
    env: str | None = None  # the environment variable that overrides it

    @property
    def section(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def field(self) -> str:
        return self.name.rpartition(".")[2]

    def fix(self) -> str:
        return f"give a {_type_name(self.kind)}, e.g. {self.example}"


def redact(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@``, and the value of any
    credential-looking query parameter (``?token=``, ``X-Amz-Signature=``...), as ``***``."""
    from ztctl.core.redact import hide_query_secrets

    if "@" in text:
        text = _USERINFO_PASSWORD.sub(r"\1:***@", text)
    return hide_query_secrets(text)


def shown(value: Any) -> str:
    """A value as a message quotes it: passwords hidden, escaped, at most 80 characters."""
    if isinstance(value, float):
        short = f"{value:g}"  # 3, 1e+12; but 600.0001 as given, never rounded to "600"
        return short if float(short) == value else repr(value)
    text = redact(str(value))
    cut = text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT]
    quoted = repr(cut)
    return quoted if cut is text else quoted[:-1] + "…" + quoted[-1]


_TIMEOUT_FIX = "give seconds from 0.1 to 600 (the default is 3)"


def _timeout(value: float) -> ValueProblem | None:
    if not math.isfinite(value):
        return (
            f"doctor.timeout must be a finite number of seconds, got {shown(value)}",
            _TIMEOUT_FIX,
        )
    if not TIMEOUT_MIN_S <= value <= TIMEOUT_MAX_S:
        return (
            f"doctor.timeout must be from 0.1 to 600 seconds, got {shown(value)}",
            _TIMEOUT_FIX,
        )
    return None


def _team(value: str) -> ValueProblem | None:
    if _TEAM.fullmatch(value):
        return None
    return (
        f"team {shown(value)} is not a Zero Trust team name",
        "use the team name alone, as in https://TEAM.cloudflareaccess.com (e.g. acme)",
    )


def _userinfo(key: str, url: str) -> ValueProblem | None:
    try:
        parts = urlsplit(url)
        has_userinfo = parts.username is not None or parts.password is not None
    except ValueError:
        has_userinfo = "@" in url
    if not has_userinfo:
        return None
    return (
        f"{key} URL {shown(url)} carries a user name or password",
        "remove USER:PASSWORD@ from the URL: ztctl never sends credentials in a URL",
    )


def catalog_url_problem(url: str) -> ValueProblem | None:
    """Why ``url`` cannot be a catalog URL, or None: https, a host, no user name or password.

    The catalog loader applies the same rule to ``--catalog`` and ``ZTCTL_CATALOG``."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return (
            f"catalog URL {shown(url)} is malformed: {exc}",
            "write it as https://HOST[:PORT]/PATH (an IPv6 host in brackets: https://[::1]:8443/)",
        )
    found = _userinfo("catalog", url)
    if found:
        return found
    if parts.scheme != "https":
        return (
            f"catalog URL {shown(url)} is not https",
            "serve the catalog over https (plain http lets anyone on the path rewrite your "
            f"cluster list): use {shown('https://' + url.split('://', 1)[-1])}, "
            "or give a file path",
        )
    if not parts.hostname:
        return (
            f"catalog URL {shown(url)} has no host",
            "write it as https://HOST[:PORT]/PATH, or give a file path",
        )
    return None


def _catalog(value: str) -> ValueProblem | None:
    # A path or an https URL, exactly as the catalog loader tells them apart.
    return catalog_url_problem(value) if "://" in value else None


def web_url_problem(key: str, url: str, example: str) -> ValueProblem | None:
    """Why ``url`` cannot be the ``key`` ztctl fetches, or None: it parses, has a host, no
    user name or password, and is https (plain http only to a loopback host, as the lab's).
    A credential in its query string is allowed, and hidden wherever the URL is shown."""
    try:
        parts = urlsplit(url)
        _ = parts.port
    except ValueError as exc:
        return (
            f"{key} URL {shown(url)} is malformed: {exc}",
            f"write it as https://HOST[:PORT]/PATH (an IPv6 host in brackets), e.g. {example}",
        )
    found = _userinfo(key, url)
    if found:
        return found
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return None
    if parts.scheme == "http" and host and _is_loopback(host):
        return None
    if parts.scheme == "http" and host:
        return (
            f"{key} URL {shown(url)} is not an https URL, and {host} is not this machine",
            f"use https (e.g. {example}): plain http is accepted only for a loopback host "
            "such as the lab's",
        )
    return (
        f"{key} URL {shown(url)} is not an https URL with a host",
        f"use an https URL such as {example} (plain http is accepted only for a loopback "
        "host such as the lab's)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _trace_url(value: str) -> ValueProblem | None:
    return web_url_problem("warp.trace_url", value, WarpConfig.trace_url)


def _api_url(value: str) -> ValueProblem | None:
    from ztctl.adapters.cloudflare import check_api_url  # the adapter's own rule

    found = web_url_problem("cloudflare.api_url", value, CloudflareConfig.api_url)
    if found:
        return found
    try:
        check_api_url(value)
    except InvalidInput as exc:
        return exc.message, exc.fix
    return None


def _account_id(value: str) -> ValueProblem | None:
    from ztctl.adapters.cloudflare import check_account_id  # the adapter's own rule

    try:
        check_account_id(value)
    except InvalidInput:
        return (
            f"cloudflare.account_id {shown(value)} is not an account id (32 hex characters)",
            "copy it from the dashboard URL (dash…/<account id>/…)",
        )
    return None


SCHEMA: tuple[Key, ...] = (
    Key("team", str, "acme", _team),
    Key("catalog", str, "https://platform.acme.net/clusters.yaml", _catalog),
    Key("warp.cli", str, "/usr/bin/warp-cli", env="ZTCTL_WARP_CLI"),
    Key("warp.interface", str, "CloudflareWARP", env="ZTCTL_WARP_INTERFACE"),
    Key(
        "warp.trace_url",
        str,
        "https://www.cloudflare.com/cdn-cgi/trace",
        _trace_url,
        env="ZTCTL_TRACE_URL",
    ),
    Key("access.cloudflared", str, "/usr/local/bin/cloudflared", env="ZTCTL_CLOUDFLARED"),
    Key("doctor.timeout", float, "3", _timeout),
    Key(
        "cloudflare.account_id",
        str,
        "699d98642c564d2e855e9661899b7252",
        _account_id,
        env="ZTCTL_CF_ACCOUNT_ID",
    ),
    Key(
        "cloudflare.api_url",
        str,
        "https://api.cloudflare.com/client/v4",
        _api_url,
        env="ZTCTL_CF_API_URL",
    ),
)
KEYS: dict[str, Key] = {key.name: key for key in SCHEMA}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(key.section for key in SCHEMA if key.section))


def check_value(key: Key, value: Any) -> tuple[Any, ValueProblem | None]:
    """``value`` (from TOML or the command line) as ``key`` holds it, or what is wrong."""
    if key.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, key.kind) or isinstance(value, bool):
        return value, (
            f"{key.name} must be a {_type_name(key.kind)}, got {_type_name(type(value))}",
            key.fix(),
        )
    if isinstance(value, str) and not value.strip():
        return value, (f"{key.name} must not be empty", key.fix())
    return value, key.rule(value) if key.rule else None


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Load ``path`` (missing = defaults) and apply environment overrides.

    Every value, from the file or from its variable, passes the schema's rule; a bad one is
    an :class:`InvalidInput` (exit 3) naming the file or the variable, the key and the fix.
    """
    values: dict[str, dict[str, Any]] = {s: {} for s in ("", *SECTIONS)}
    raw = read_config_bytes(path)
    exists = raw is not None
    if raw is not None:
        values = _parse(path, raw)

    problems: list[ValueProblem] = []
    for key in SCHEMA:
        if key.env and env.get(key.env):
            value, problem = check_value(key, env[key.env])
            if problem:
                problems.append(
                    (f"{key.env}: {problem[0]}", f"{problem[1]}: fix {key.env}, or unset it")
                )
            values[key.section][key.field] = value
    _raise("the environment", problems)

    top = values[""]
    return Config(
        path=path,
        exists=exists,
        team=top.get("team"),
        catalog=top.get("catalog"),
        warp=WarpConfig(**values["warp"]),
        access=AccessConfig(**values["access"]),
        doctor=DoctorConfig(**values["doctor"]),
        cloudflare=CloudflareConfig(**values["cloudflare"]),
    )


def _raise(where: str, problems: list[ValueProblem]) -> None:
    """One problem: its own message and fix. Several: each with its fix, listed."""
    if len(problems) == 1:
        raise InvalidInput(*problems[0])
    if problems:
        raise InvalidInput(
            f"{where} has {len(problems)} problems",
            "fix each as said above (see docs/configuration.md)",
            details=[f"{message}; {fix}" for message, fix in problems],
        )


# A config file is a few lines; the cap keeps a wrong --config (/dev/zero, a FIFO, a
# multi-gigabyte log) from hanging ztctl or eating its memory.
MAX_CONFIG_BYTES = 1024 * 1024


def read_config_bytes(path: Path) -> bytes | None:
    """The config file's bytes, or None when it does not exist.

    Regular files only, at most :data:`MAX_CONFIG_BYTES`; anything else is an
    :class:`InvalidInput` that names the file and the fix.
    """
    from ztctl.adapters.fs import NotRegularFile, TooLarge, read_regular_file

    try:
        return read_regular_file(path, MAX_CONFIG_BYTES)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise InvalidInput(
            f"config {path} is a directory, not a file",
            "point --config (or ZTCTL_CONFIG) at a TOML file",
        ) from None
    except NotRegularFile as exc:
        raise InvalidInput(
            f"config {path} is {exc.what}, not a regular file",
            "point --config (or ZTCTL_CONFIG) at a TOML file",
        ) from None
    except TooLarge:
        raise InvalidInput(
            f"config {path} is larger than 1 MiB",
            "a config file is a few lines: point --config (or ZTCTL_CONFIG) at the right file",
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"cannot read config {path}: {exc.strerror or exc}",
            f"check the file's permissions (chmod 600 {path})",
        ) from None


def _parse(path: Path, raw: bytes) -> dict[str, dict[str, Any]]:
    values, problems = check_file(path, raw)
    _raise(f"config {path}", problems)
    return values


def check_file(path: Path, raw: bytes) -> tuple[dict[str, dict[str, Any]], list[ValueProblem]]:
    """The values of a config file's text and every problem in it. Text that is not UTF-8
    TOML is an :class:`InvalidInput` at once."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"config {path} is not UTF-8 text",
            "rewrite it as a TOML file (see docs/configuration.md)",
        ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(
            f"config {path} is not valid TOML: {exc}",
            "fix the syntax at the position shown (see docs/configuration.md)",
        ) from None

    problems: list[ValueProblem] = []
    values: dict[str, dict[str, Any]] = {s: {} for s in ("", *SECTIONS)}
    for name, value in document.items():
        if isinstance(value, dict):
            if name not in SECTIONS:
                problems.append(
                    (
                        f"{path}: unknown section [{name}]{did_you_mean(name, list(SECTIONS))}",
                        _FIX_UNKNOWN,
                    )
                )
                continue
            for sub, sub_value in value.items():
                _check(path, name, sub, sub_value, values, problems)
        else:
            _check(path, "", name, value, values, problems)
    return values, problems


_FIX_UNKNOWN = "remove it or correct its name (see docs/configuration.md)"


def _check(
    path: Path,
    section: str,
    field_name: str,
    value: Any,
    values: dict[str, dict[str, Any]],
    problems: list[ValueProblem],
) -> None:
    name = f"{section}.{field_name}" if section else field_name
    key = KEYS.get(name)
    if key is None or key.section != section:
        known = [k.field for k in SCHEMA if k.section == section]
        problems.append(
            (f"{path}: unknown key {name}{did_you_mean(field_name, known)}", _FIX_UNKNOWN)
        )
        return
    value, problem = check_value(key, value)
    if problem:
        problems.append(
            (
                f"{path}: {problem[0]}",
                f"{problem[1]}: edit {path}, or run `ztctl config set {key.name} VALUE`",
            )
        )
        return
    values[key.section][key.field] = value


def _type_name(kind: type) -> str:
    return {str: "string", float: "number", int: "integer", bool: "boolean"}.get(
        kind, kind.__name__
    )
