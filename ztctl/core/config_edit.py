"""Editing ztctl's config file: ``ztctl config get|set|unset`` and ``login``'s saved settings.

Keys are dotted (``team``, ``warp.cli``); the schema is the loader's (:mod:`ztctl.core.config`),
so a key or value the loader would refuse is refused here before anything is written. The file
is edited as a TOML document (tomlkit), so the user's comments, order and formatting survive,
and it is replaced atomically: a crash leaves the old file or the new one, never half of each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.core import config as config_mod
from ztctl.core.suggest import did_you_mean
from ztctl.errors import InvalidInput

# Cloudflare team names are the first label of <team>.cloudflareaccess.com.
_TEAM = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def keys() -> list[str]:
    """Every valid dotted key, in the schema's order."""
    return [
        f"{section}.{name}" if section else name
        for section, names in config_mod._SCHEMA.items()
        for name in names
    ]


def split_key(key: str) -> tuple[str, str]:
    """``warp.cli`` → ``("warp", "cli")``; an unknown key is exit 3 with the closest valid one."""
    section, _, name = key.rpartition(".")
    schema = config_mod._SCHEMA.get(section)
    if schema is None or name not in schema:
        valid = keys()
        hint = did_you_mean(key, valid)
        raise InvalidInput(
            f"unknown config key {key!r}{hint}",
            "valid keys: " + ", ".join(valid),
        )
    return section, name


def parse_value(key: str, text: str) -> Any:
    """The typed, validated value of ``key`` from its command-line text."""
    section, name = split_key(key)
    expected = config_mod._SCHEMA[section][name]
    value: Any = text
    if expected is float:
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(
                f"{key} must be a number, got {text!r}", f"for example: ztctl config set {key} 3"
            ) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidInput(f"{key} must be a finite number, got {text!r}", "use e.g. 3")
    problems: list[str] = []
    values: dict[str, dict[str, Any]] = {s: {} for s in config_mod._SCHEMA}
    config_mod._check(Path("config"), section, name, value, values, problems)
    if problems:
        raise InvalidInput(
            problems[0].removeprefix("config: "), f"give {key} a valid value (ztctl config set)"
        )
    value = values[section][name]
    _check_meaning(key, value)
    return value


def _check_meaning(key: str, value: Any) -> None:
    if key == "team" and not _TEAM.match(value):
        raise InvalidInput(
            f"team {value!r} is not a Zero Trust team name",
            "use the team name alone, as in https://TEAM.cloudflareaccess.com (e.g. acme)",
        )
    if key == "catalog" and "://" in value and not value.lower().startswith("https://"):
        raise InvalidInput(
            f"catalog URL {value!r} is not https",
            "serve the catalog over https, or give a file path",
        )


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    source: str  # "file", "env" or "default"


def settings(path: Path, env: Mapping[str, str]) -> list[Setting]:
    """Every key's effective value and where it comes from (``config show``)."""
    config = config_mod.load_config(path, env)
    in_file = _file_keys(path) if config.exists else set()
    overridden = {
        f"{section}.{name}"
        for (section, name), var in config_mod._ENV_OVERRIDES.items()
        if env.get(var)
    }
    result = []
    for key in keys():
        value = effective(config, key)
        source = "env" if key in overridden else "file" if key in in_file else "default"
        result.append(Setting(key, value, source))
    return result


def effective(config: config_mod.Config, key: str) -> Any:
    section, name = split_key(key)
    holder: Any = getattr(config, section) if section else config
    return getattr(holder, name)


def _file_keys(path: Path) -> set[str]:
    document = _read_document(path)
    found = set()
    for key in keys():
        section, name = key.rpartition(".")[::2]
        table = document.get(section) if section else document
        if table is not None and name in table:
            found.add(key)
    return found


def set_values(path: Path, updates: Mapping[str, Any]) -> bool:
    """Write ``updates`` (dotted key → validated value) into ``path``; False when unchanged."""
    import tomlkit

    document = _read_document(path)
    changed = False
    for key, value in updates.items():
        section, name = split_key(key)
        table: Any = document
        if section:
            if section not in document:
                document.add(section, tomlkit.table())
            table = document[section]
        if name in table and table[name] == value:
            continue
        table[name] = value
        changed = True
    if changed:
        _write(path, document)
    return changed


def unset_value(path: Path, key: str) -> bool:
    """Remove ``key`` from ``path``; False when it was not set there.

    A key the schema does not know is still removed when the file has it: that is how a
    user clears a stale or misspelt key that makes the loader refuse the file.
    """
    document = _read_document(path)
    section, _, name = key.rpartition(".")
    table: Any = document.get(section) if section else document
    present = hasattr(table, "__contains__") and name in table
    if not present:
        split_key(key)  # an unknown key that is not in the file either: exit 3
        return False
    del table[name]
    _write(path, document)
    return True


def _read_document(path: Path) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    raw = config_mod.read_config_bytes(path)
    if raw is None:
        return tomlkit.document()
    try:
        return tomlkit.parse(raw.decode("utf-8"))
    except (UnicodeDecodeError, TOMLKitError) as exc:
        raise InvalidInput(
            f"config {path} is not valid TOML: {exc}",
            "fix the syntax at the position shown (see docs/configuration.md); nothing was written",
        ) from None


def _write(path: Path, document: Any) -> None:
    from ztctl.adapters.fs import atomic_write, ensure_private_dir

    text = document.as_string()
    # Refuse to leave a file the loader would reject (e.g. an unknown key already there
    # stays the user's to fix, but what we write must parse).
    config_mod._parse(path, text.encode("utf-8"))
    target = path.resolve() if path.is_symlink() else path
    try:
        if not target.parent.exists():
            ensure_private_dir(target.parent)
        atomic_write(target, text.encode("utf-8"))
    except OSError as exc:
        raise InvalidInput(
            f"cannot write config {path}: {exc.strerror or exc}",
            f"check that {target.parent} is writable",
        ) from None
