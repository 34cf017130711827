"""ztctl's configuration file (docs/configuration.md): TOML, platform paths, environment
overrides.

A missing file means defaults. A present but broken one is an :class:`InvalidInput` that
names the file, the key and the fix, with every problem listed at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    "AccessConfig",
    "CloudflareConfig",
    "Config",
    "DoctorConfig",
    "WarpConfig",
    "config_path",
    "default_config_path",
    "default_state_dir",
    "load_config",
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


# The schema: section -> key -> type. The top level is section "".
_SCHEMA: dict[str, dict[str, type]] = {
    "": {"team": str, "catalog": str},
    "warp": {"cli": str, "interface": str, "trace_url": str},
    "access": {"cloudflared": str},
    "doctor": {"timeout": float},
    "cloudflare": {"account_id": str, "api_url": str},
}
_SECTIONS = [s for s in _SCHEMA if s]

# Environment variables that override a key (docs/configuration.md).
_ENV_OVERRIDES = {
    ("warp", "cli"): "ZTCTL_WARP_CLI",
    ("warp", "interface"): "ZTCTL_WARP_INTERFACE",
    ("warp", "trace_url"): "ZTCTL_TRACE_URL",
    ("access", "cloudflared"): "ZTCTL_CLOUDFLARED",
    ("cloudflare", "account_id"): "ZTCTL_CF_ACCOUNT_ID",
    ("cloudflare", "api_url"): "ZTCTL_CF_API_URL",
}


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Load ``path`` (missing = defaults) and apply environment overrides."""
    values: dict[str, dict[str, Any]] = {s: {} for s in _SCHEMA}
    raw = read_config_bytes(path)
    exists = raw is not None
    if raw is not None:
        values = _parse(path, raw)

    for (section, key), var in _ENV_OVERRIDES.items():
        if env.get(var):
            values[section][key] = env[var]

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

    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {s: {} for s in _SCHEMA}
    for key, value in document.items():
        if isinstance(value, dict):
            if key not in _SECTIONS:
                problems.append(f"{path}: unknown section [{key}]{did_you_mean(key, _SECTIONS)}")
                continue
            for sub, sub_value in value.items():
                _check(path, key, sub, sub_value, values, problems)
        else:
            _check(path, "", key, value, values, problems)
    if problems:
        raise InvalidInput(
            problems[0] if len(problems) == 1 else f"config {path} has {len(problems)} problems",
            "fix the keys named above (see docs/configuration.md)",
            details=problems if len(problems) > 1 else None,
        )
    return values


def _check(
    path: Path,
    section: str,
    key: str,
    value: Any,
    values: dict[str, dict[str, Any]],
    problems: list[str],
) -> None:
    schema = _SCHEMA[section]
    where = f"{section}.{key}" if section else key
    if key not in schema:
        hint = did_you_mean(key, list(schema))
        problems.append(f"{path}: unknown key {where}{hint}")
        return
    expected = schema[key]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or isinstance(value, bool):
        problems.append(
            f"{path}: {where} must be a {_type_name(expected)}, got {_type_name(type(value))}"
        )
        return
    if isinstance(value, float) and value <= 0:
        problems.append(f"{path}: {where} must be greater than 0, got {value}")
        return
    if isinstance(value, str) and not value.strip():
        problems.append(f"{path}: {where} must not be empty")
        return
    values[section][key] = value


def _type_name(kind: type) -> str:
    return {str: "string", float: "number", int: "integer", bool: "boolean"}.get(
        kind, kind.__name__
    )
