"""The types kubectl's decoder insists on (client-go ``api/v1`` ``Config``).

Decoding is not strict: unknown fields are ignored, ``null`` is always accepted. A known
field of the wrong type, or ``*-data`` that is not base64, makes kubectl refuse the whole
file ("json: cannot unmarshal number into Go struct field ..."), so ztctl refuses it too.
"""

from __future__ import annotations

from typing import Any

from ztctl.core.kubeconfig.gobase64 import Base64Error, decode_std

STR = "string"
BOOL = "boolean"
BYTES = "base64 string"
ANY = "any"


class ListOf:
    __slots__ = ("item",)

    def __init__(self, item: Any) -> None:
        self.item = item


class MapOf:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


EXTENSIONS = ListOf({"name": STR, "extension": ANY})
CLUSTER = {
    "server": STR,
    "tls-server-name": STR,
    "insecure-skip-tls-verify": BOOL,
    "certificate-authority": STR,
    "certificate-authority-data": BYTES,
    "proxy-url": STR,
    "disable-compression": BOOL,
    "extensions": EXTENSIONS,
}
EXEC = {
    "command": STR,
    "args": ListOf(STR),
    "env": ListOf({"name": STR, "value": STR}),
    "apiVersion": STR,
    "installHint": STR,
    "provideClusterInfo": BOOL,
    "interactiveMode": STR,
}
USER = {
    "client-certificate": STR,
    "client-certificate-data": BYTES,
    "client-key": STR,
    "client-key-data": BYTES,
    "token": STR,
    "tokenFile": STR,
    "as": STR,
    "as-uid": STR,
    "as-groups": ListOf(STR),
    "as-user-extra": MapOf(ListOf(STR)),
    "username": STR,
    "password": STR,
    "auth-provider": {"name": STR, "config": MapOf(STR)},
    "exec": EXEC,
    "extensions": EXTENSIONS,
}
CONTEXT = {"cluster": STR, "user": STR, "namespace": STR, "extensions": EXTENSIONS}
CONFIG = {
    "kind": STR,
    "apiVersion": STR,
    "preferences": {"colors": BOOL, "extensions": EXTENSIONS},
    "clusters": ListOf({"name": STR, "cluster": CLUSTER}),
    "users": ListOf({"name": STR, "user": USER}),
    "contexts": ListOf({"name": STR, "context": CONTEXT}),
    "current-context": STR,
    "extensions": EXTENSIONS,
}

# Top-level lists and the key of each item's body.
LISTS = {"clusters": "cluster", "users": "user", "contexts": "context"}


def type_name(value: Any) -> str:
    if value is True or value is False:
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def check(document: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Every type problem as ``(path, message)``; ``path`` holds keys and list indexes."""
    problems: list[tuple[tuple[Any, ...], str]] = []
    if document is None:
        return problems
    if not isinstance(document, dict):
        problems.append(((), f"the document must be a mapping, not a {type_name(document)}"))
        return problems
    _check(document, CONFIG, (), problems)
    return problems


def _check(value: Any, spec: Any, path: tuple[Any, ...], problems: list[Any]) -> None:
    if value is None or spec is ANY:
        return
    if spec is STR:
        if value.__class__ is not str:
            problems.append((path, f"must be a string, not a {type_name(value)}"))
    elif spec is BOOL:
        if value is not True and value is not False:
            problems.append((path, f"must be true or false, not a {type_name(value)}"))
    elif spec is BYTES:
        if value.__class__ is not str:
            problems.append((path, f"must be a base64 string, not a {type_name(value)}"))
        else:
            try:
                decode_std(value)
            except Base64Error as exc:
                problems.append(
                    (
                        path,
                        f"is not base64 kubectl can decode ({exc}; standard alphabet, `=` "
                        "padding and nothing after it)",
                    )
                )
    elif spec.__class__ is dict:
        if value.__class__ is not dict:
            problems.append((path, f"must be a mapping, not a {type_name(value)}"))
            return
        for key, sub in value.items():
            sub_spec = spec.get(key)
            if sub_spec is not None and sub is not None:
                _check(sub, sub_spec, (*path, key), problems)
    elif spec.__class__ is ListOf:
        if value.__class__ is not list:
            problems.append((path, f"must be a list, not a {type_name(value)}"))
            return
        item_spec = spec.item
        for index, item in enumerate(value):
            if item is not None:
                _check(item, item_spec, (*path, index), problems)
    elif spec.__class__ is MapOf:
        if value.__class__ is not dict:
            problems.append((path, f"must be a mapping, not a {type_name(value)}"))
            return
        for key, sub in value.items():
            if sub is not None:
                _check(sub, spec.value, (*path, key), problems)


def format_path(document: Any, path: tuple[Any, ...]) -> str:
    """``clusters[3] ("gke_x").cluster.server``: kubectl's field path, with the entry name."""
    out = ""
    node = document
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            try:
                node = node[part]
                name = node.get("name") if isinstance(node, dict) else None
            except (IndexError, KeyError, TypeError):
                name = None
            if isinstance(name, str):
                out += f" ({name!r})"
        else:
            out += f".{part}" if out else str(part)
            try:
                node = node[part]
            except (KeyError, TypeError):
                node = None
    return out or "the document"
