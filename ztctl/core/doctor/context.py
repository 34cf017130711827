"""What every doctor check may use: the configuration, the clusters, shared facts.

:class:`DoctorContext` is built once per ``doctor`` run. Expensive things several checks
need (``warp-cli status``, ``settings``, the trace fetch, one probe per cluster) are
computed once through :attr:`DoctorContext.facts` (single-flight).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ztctl.core.doctor.runner import Facts

if TYPE_CHECKING:
    from ztctl.adapters.warp import WarpClient
    from ztctl.core.config import WarpConfig
    from ztctl.core.model import Cluster
    from ztctl.core.probe import Target


def inner_timeout(timeout: float) -> float:
    """The timeout for one I/O inside a check: a little under the check's own, so the
    I/O's precise message ("warp-cli did not answer within 0.9 s") wins over the runner's
    generic "did not finish"."""
    margin = min(0.25, timeout * 0.1)
    return max(0.05, timeout - margin)


@dataclass
class DoctorContext:
    team: str | None
    warp: WarpConfig
    clusters: tuple[Cluster, ...] = ()
    targets: Mapping[str, Target] = field(default_factory=dict)  # name -> what kubectl uses
    timeout: float = 3.0
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Catalog clusters (selected or not) whose Access tokens may be in the keyring: any of
    # them serves device.posture's get-identity call.
    access_clusters: tuple[str, ...] = ()
    # How to find an Access token (tests replace it); None: the OS keyring
    # (ztctl.core.doctor.device.default_token_source).
    token_source: Any = None
    facts: Facts = field(default_factory=Facts)
    # The server-side checks (ztctl.core.doctor.server.ServerSide); None: --no-server.
    server: Any = None
    started: float = field(default_factory=time.monotonic)
    _warp_client: WarpClient | None = field(default=None, repr=False)
    # Checks run in threads (the warp.* and cf.device checks ask at once): one client, made
    # once, so every warp-cli call lands in the one transcript that --bundle writes.
    _warp_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def io_timeout(self) -> float:
        return inner_timeout(self.timeout)

    def warp_client(self) -> WarpClient:
        with self._warp_lock:
            if self._warp_client is None:
                from ztctl.adapters.warp import WarpClient

                self._warp_client = WarpClient(self.warp.cli, timeout=self.io_timeout, env=None)
            return self._warp_client

    def warp_transcript(self) -> list[Any]:
        """Every warp-cli call made so far (``WarpRun``), for ``--bundle``."""
        client = self._warp_client
        return list(client.transcript) if client is not None else []

    def cluster(self, name: str) -> Cluster:
        for cluster in self.clusters:
            if cluster.name == name:
                return cluster
        raise KeyError(name)

    def target(self, name: str) -> Target:
        found = self.targets.get(name)
        if found is not None:
            return found
        from ztctl.core.probe import target_from_cluster

        return target_from_cluster(self.cluster(name))

    def cluster_addresses(self) -> list[tuple[str, str]]:
        """(cluster, address) for every selected cluster's catalog address."""
        return [(c.name, a) for c in self.clusters for a in c.addresses]
