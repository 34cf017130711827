"""What break-glass takes from the catalog, never from a session file.

A session file is the user's to edit (it lives in their state directory), so it only
identifies a session. Whatever runs or decides how long a route stays open comes from
the catalog each time it is needed: the VPN's ``down`` command, and ``maxTtl``, which caps
the session's deadline (as do the 7 days of :data:`.session.MAX_SESSION_S`, always).

The catalog is the one ``start`` used (``--catalog``, ``ZTCTL_CATALOG`` or the config's
``catalog``), read without the network (a URL catalog from its cached copy): the watchdog
and ``end`` must work while the network is down, and must never hang on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ztctl.core.breakglass.session import Session

if TYPE_CHECKING:
    from ztctl.core.model import BreakGlass, Catalog, Cluster

ENV_CATALOG = "ZTCTL_CATALOG"


class CatalogRoutes:
    """The catalog's ``breakGlass`` of each cluster, read on first use and kept.

    ``source``: the catalog (path or URL); None: ``ZTCTL_CATALOG``, else the config's.
    ``known``: clusters already at hand (``start`` has its cluster), read from nowhere else.
    """

    def __init__(
        self,
        state_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        source: str | None = None,
        known: Mapping[str, BreakGlass | None] | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.env = dict(os.environ if env is None else env)
        self._source = source
        self._known = dict(known or {})
        self._catalog: Catalog | None = None
        self._error: Exception | None = None

    @classmethod
    def of(
        cls,
        cluster: Cluster,
        state_dir: Path,
        env: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> CatalogRoutes:
        return cls(state_dir, env, source=source, known={cluster.name: cluster.break_glass})

    def source(self) -> str | None:
        """The catalog's source; a path made absolute (the watchdog runs in ``/``)."""
        from ztctl.core.catalog import is_url

        source = self._source or self.env.get(ENV_CATALOG)
        if not source:
            from ztctl.core.config import load_config
            from ztctl.core.paths import config_path

            source = load_config(config_path(None, self.env), self.env).catalog
        if not source or is_url(source):
            return source or None
        return str(Path(source).expanduser().resolve())

    def break_glass(self, cluster: str) -> BreakGlass | None:
        """The catalog's ``breakGlass`` of ``cluster`` (None: the catalog has none for it).

        Raises whatever reading the catalog raised (a :class:`ZtctlError` mostly).
        """
        if cluster in self._known:
            return self._known[cluster]
        found = self._load().get(cluster)
        return found.break_glass if found is not None else None

    def max_ttl(self, cluster: str) -> int | None:
        """The catalog's ``maxTtl`` of ``cluster``, or None when it cannot be told."""
        try:
            bg = self.break_glass(cluster)
        except Exception:  # an unreadable catalog: the 7-day cap still holds
            return None
        return bg.max_ttl_s if bg is not None else None

    def cap(self, session: Session | None) -> Session | None:
        """``session`` with its deadline cut back to what the catalog's ``maxTtl`` allows."""
        if session is None:
            return None
        limit = self.max_ttl(session.cluster)
        return session if limit is None else session.capped(limit)

    def catalog(self) -> Catalog:
        """The catalog itself (read once); raises whatever reading it raised."""
        return self._load()

    def _load(self) -> Catalog:
        if self._error is not None:
            raise self._error
        if self._catalog is None:
            from ztctl.core.catalog import load_catalog
            from ztctl.errors import InvalidInput

            try:
                source = self.source()
                if not source:
                    raise InvalidInput(
                        "no cluster catalog is configured",
                        "pass --catalog PATH|URL (ZTCTL_CATALOG), the one the session began with",
                    )
                self._catalog = load_catalog(source, self.state_dir, self.env, offline=True)
            except Exception as exc:
                self._error = exc
                raise
        return self._catalog
