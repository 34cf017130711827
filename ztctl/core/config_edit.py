"""Editing ztctl's config file: ``ztctl config get|set|unset`` and ``login``'s saved settings.

Keys are dotted (``team``, ``warp.cli``); the schema is the loader's (:mod:`ztctl.core.config`),
so a key or value the loader would refuse is refused here before anything is written. The file
is edited as a TOML document (tomlkit), so the user's comments, order and formatting survive,
and it is replaced atomically: a crash leaves the old file or the new one, never half of each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.core import config as config_mod
from ztctl.core.suggest import did_you_mean
from ztctl.errors import InvalidInput


def keys() -> list[str]:
    """Every valid dotted key, in the schema's order."""
    return [key.name for key in config_mod.SCHEMA]


def split_key(key: str) -> tuple[str, str]:
    """``warp.cli`` → ``("warp", "cli")``; an unknown key is exit 3 with the closest valid one."""
    found = config_mod.KEYS.get(key)
    if found is None:
        valid = keys()
        hint = did_you_mean(key, valid)
        raise InvalidInput(
            f"unknown config key {key!r}{hint}",
            "valid keys: " + ", ".join(valid),
        )
    return found.section, found.field


def parse_value(key: str, text: str) -> Any:
    """The typed, validated value of ``key`` from its command-line text: the loader's rule
    (:func:`ztctl.core.config.check_value`), so nothing the loader would refuse is written."""
    split_key(key)
    schema_key = config_mod.KEYS[key]
    value: Any = text
    if schema_key.kind is float:
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(
                f"{key} must be a number, got {config_mod.shown(text)}",
                f"{schema_key.fix()} (nothing was written)",
            ) from None
    value, problem = config_mod.check_value(schema_key, value)
    if problem:
        raise InvalidInput(problem[0], f"{problem[1]} (nothing was written)")
    return value


def public_value(value: Any) -> Any:
    """``value`` as ``config get``/``show``/``set`` print it: a URL's password as ``***``."""
    return config_mod.redact(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Setting:
    key: str
    value: Any
    source: str  # "file", "env" or "default"


def settings(path: Path, env: Mapping[str, str]) -> list[Setting]:
    """Every key's effective value and where it comes from (``config show``)."""
    config = config_mod.load_config(path, env)
    in_file = _file_keys(path) if config.exists else set()
    overridden = {key.name for key in config_mod.SCHEMA if key.env and env.get(key.env)}
    result = []
    for key in keys():
        value = effective(config, key)
        source = "env" if key in overridden else "file" if key in in_file else "default"
        result.append(Setting(key, public_value(value), source))
    return result


def effective(config: config_mod.Config, key: str) -> Any:
    section, name = split_key(key)
    holder: Any = getattr(config, section) if section else config
    return getattr(holder, name)


def _file_keys(path: Path) -> set[str]:
    document = _read_document(path)
    found = set()
    for key in config_mod.SCHEMA:
        table = document.get(key.section) if key.section else document
        if table is not None and key.field in table:
            found.add(key.name)
    return found


def set_values(path: Path, updates: Mapping[str, Any]) -> bool:
    """Write ``updates`` (dotted key → validated value) into ``path``; False when unchanged."""
    import tomlkit

    document = _read_document(path)
    before = _problems(path, document)
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
        _write(path, document, before)
    return changed


def unset_value(path: Path, key: str) -> bool:
    """Remove ``key`` from ``path``; False when it was not set there.

    A key the schema does not know is still removed when the file has it: that is how a
    user clears a stale or misspelt key that makes the loader refuse the file.
    """
    document = _read_document(path)
    before = _problems(path, document)
    section, _, name = key.rpartition(".")
    table: Any = document.get(section) if section else document
    present = hasattr(table, "__contains__") and name in table
    if not present:
        split_key(key)  # an unknown key that is not in the file either: exit 3
        return False
    del table[name]
    _write(path, document, before)
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


def _problems(path: Path, document: Any) -> list[config_mod.ValueProblem]:
    """What the loader would refuse in ``document`` (nothing: an empty list)."""
    return config_mod.check_file(path, document.as_string().encode("utf-8"))[1]


def _write(path: Path, document: Any, before: list[config_mod.ValueProblem]) -> None:
    from ztctl.adapters.fs import atomic_write, ensure_private_dir

    text = document.as_string()
    # Never leave a problem the file did not have (what we write must load); problems
    # already there stay the user's to fix, one `set` or `unset` at a time.
    new = [problem for problem in _problems(path, document) if problem not in before]
    if new:
        config_mod._raise(
            f"config {path}", [(message, f"{fix} (nothing was written)") for message, fix in new]
        )
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
