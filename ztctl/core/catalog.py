"""The cluster catalog (docs/catalog.md): read from a path or an https URL, validated whole
(:mod:`ztctl.core.catalog_parse`). An https catalog is cached in the state directory with its
ETag; when the URL cannot be reached, the last good copy is used and the warning says how old
it is."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.core.catalog_parse import MAX_CATALOG_BYTES, parse_catalog
from ztctl.core.duration import format_duration
from ztctl.core.model import (
    Catalog,
)
from ztctl.core.redact import hide_passwords
from ztctl.errors import InvalidInput

# The whole fetch of an https catalog, however slowly the server trickles (seconds).
FETCH_DEADLINE_S = 10.0


@dataclass(frozen=True)
class CatalogText:
    """The raw catalog and where it came from."""

    text: str
    source: str  # as given: a path or a URL
    label: str  # how messages name it (the resolved path, or the URL)
    base_dir: Path | None  # where relative paths resolve; None for a URL
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------
# Reading


def is_url(source: str) -> bool:
    return "://" in source


def read_catalog_text(
    source: str,
    state_dir: Path | Callable[[], Path],
    env: Mapping[str, str] = os.environ,
    *,
    offline: bool = False,
) -> CatalogText:
    """The catalog's text; ``state_dir`` (the URL cache) may be given lazily as a callable.

    ``offline``: for a URL, only the cached copy (shell completion must never wait on the
    network); :class:`InvalidInput` when there is none.
    """
    if is_url(source):
        _check_url_syntax(source)
        cache = state_dir() if callable(state_dir) else state_dir
        if offline:
            body_path, _meta = _cache_paths(cache, source)
            if not body_path.exists():
                raise InvalidInput(
                    f"no cached copy of catalog {hide_passwords(source)}", "run `ztctl clusters`"
                )
            return _cached(source, body_path, ())
        return _read_url(source, cache, env)
    return _read_path(Path(source).expanduser())


def _check_url_syntax(url: str) -> None:
    """The config's rule for a catalog URL (https, a host, no user name or password; the
    password never echoed): ``--catalog`` and ``ZTCTL_CATALOG`` get the same as the file."""
    from ztctl.core.config import catalog_url_problem

    problem = catalog_url_problem(url)
    if problem:
        raise InvalidInput(*problem)


def _read_path(path: Path) -> CatalogText:
    from ztctl.adapters.fs import NotRegularFile, TooLarge, read_regular_file

    try:
        raw = read_regular_file(path, MAX_CATALOG_BYTES)
    except TooLarge:
        raise InvalidInput(
            f"catalog {path} is larger than {MAX_CATALOG_BYTES // (1024 * 1024)} MiB",
            "point --catalog at the catalog YAML file (see docs/catalog.md)",
        ) from None
    except NotRegularFile as exc:
        raise InvalidInput(
            f"catalog {path} is {exc.what}, not a regular file",
            "point --catalog at the catalog YAML file",
        ) from None
    except FileNotFoundError:
        raise InvalidInput(
            f"catalog {path} does not exist",
            "set `catalog` in the config, or pass --catalog PATH|URL (ZTCTL_CATALOG)",
        ) from None
    except IsADirectoryError:
        raise InvalidInput(
            f"catalog {path} is a directory", "point --catalog at the catalog YAML file"
        ) from None
    except OSError as exc:
        raise InvalidInput(
            f"cannot read catalog {path}: {exc.strerror or exc}",
            "check the file's permissions",
        ) from None
    resolved = path.resolve()
    return CatalogText(
        text=_decode(raw, str(path)), source=str(path), label=str(path), base_dir=resolved.parent
    )


def _decode(raw: bytes, label: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(
            f"catalog {label} is not UTF-8 text (is it a binary file?)",
            "point --catalog at the YAML catalog (see docs/catalog.md)",
        ) from None


def _cache_paths(state_dir: Path, url: str) -> tuple[Path, Path]:
    import hashlib

    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    base = state_dir / "catalog-cache"
    return base / f"{key}.yaml", base / f"{key}.json"


def _read_url(url: str, state_dir: Path, env: Mapping[str, str]) -> CatalogText:
    shown = hide_passwords(url)  # what messages say: a presigned URL's signature hidden
    body_path, meta_path = _cache_paths(state_dir, url)
    meta: dict[str, Any] = {}
    if body_path.exists() and meta_path.exists():
        from ztctl.adapters.fs import read_regular_text

        try:
            meta = json.loads(read_regular_text(meta_path, 64 * 1024))
        except (OSError, ValueError):
            meta = {}

    from ztctl.adapters import http

    headers = {"Accept": "application/yaml, text/yaml, text/plain"}
    if meta.get("etag"):
        headers["If-None-Match"] = str(meta["etag"])

    error: str
    try:
        response = http.fetch(
            url, headers=headers, deadline_s=FETCH_DEADLINE_S, max_bytes=MAX_CATALOG_BYTES, env=env
        )
    except http.FetchError as exc:
        error = hide_passwords(str(exc))
    else:
        if response.status == 304 and meta:
            meta["checked_at"] = time.time()
            _store_meta(meta_path, meta)
            return _cached(url, body_path, ())
        if response.status == 200:
            text = _decode(response.body, shown)
            # Validate before caching: only a good copy may become the fallback.
            parse_catalog(text, source=url, label=shown, base_dir=None)
            _store(state_dir, body_path, meta_path, text, url, response.headers.get("etag"))
            return CatalogText(text=text, source=url, label=shown, base_dir=None)
        error = f"HTTP {response.status}"

    if meta:
        age = format_duration(time.time() - float(meta.get("checked_at", 0)))
        warning = f"catalog {shown} is unreachable ({error}); using the copy cached {age} ago"
        return _cached(url, body_path, (warning,))
    raise InvalidInput(
        f"cannot fetch catalog {shown}: {error}",
        "check the URL and your connection (is WARP connected? `ztctl doctor`), "
        "or use a local copy with --catalog PATH",
    )


def _cached(url: str, body_path: Path, warnings: tuple[str, ...]) -> CatalogText:
    from ztctl.adapters.fs import read_regular_file

    shown = hide_passwords(url)
    try:
        text = _decode(read_regular_file(body_path, MAX_CATALOG_BYTES), shown)
    except OSError as exc:
        raise InvalidInput(
            f"the cached copy of catalog {shown} cannot be read: {exc}",
            "run `ztctl clusters` while the URL is reachable to refresh it",
        ) from None
    return CatalogText(text=text, source=url, label=shown, base_dir=None, warnings=warnings)


def _store(
    state_dir: Path, body_path: Path, meta_path: Path, text: str, url: str, etag: str | None
) -> None:
    from ztctl.adapters.fs import atomic_write, ensure_private_dir

    ensure_private_dir(state_dir)
    ensure_private_dir(body_path.parent)
    atomic_write(body_path, text.encode("utf-8"), mode=0o600)
    _store_meta(meta_path, {"url": url, "etag": etag, "checked_at": time.time()})


def _store_meta(meta_path: Path, meta: dict[str, Any]) -> None:
    from ztctl.adapters.fs import atomic_write

    atomic_write(meta_path, json.dumps(meta).encode("utf-8"), mode=0o600)


def load_catalog(
    source: str,
    state_dir: Path | Callable[[], Path],
    env: Mapping[str, str] = os.environ,
    *,
    offline: bool = False,
) -> Catalog:
    raw = read_catalog_text(source, state_dir, env, offline=offline)
    catalog = parse_catalog(raw.text, source=raw.source, label=raw.label, base_dir=raw.base_dir)
    if raw.warnings:
        catalog = Catalog(
            team=catalog.team,
            clusters=catalog.clusters,
            source=catalog.source,
            warnings=raw.warnings + catalog.warnings,
        )
    return catalog
