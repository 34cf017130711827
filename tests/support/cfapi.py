"""An in-process Cloudflare API stand-in (ztctl.lab.cfapi) over a catalog of N clusters, with
a mutable state, for the client and check tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ztctl.lab import state as labstate
from ztctl.lab.cfapi import CfApi, start_cfapi

TOKEN = "test-cf-token-4f1d2b8e9a7c6d5e3f2a1b0c"
CA_DATA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="


def catalog_entries(count: int, *, shared: bool = False) -> list[dict[str, Any]]:
    """``count`` clusters at 203.0.113.x (or all at one address with ``shared``)."""
    out = []
    for i in range(count):
        address = "203.0.113.10" if shared else f"198.18.{i // 200}.{i % 200 + 1}"
        out.append(
            {
                "name": f"c{i}",
                "server": f"https://c{i}.k8s.example:6443" if shared else f"https://{address}:6443",
                "addresses": [address],
                "certificateAuthorityData": CA_DATA,
                "credentials": {"exec": {"command": "kubelogin"}},
            }
        )
    return out


def write_catalog(path: Path, entries: list[dict[str, Any]]) -> Path:
    document = {"apiVersion": "ztctl/v1", "kind": "ClusterCatalog", "team": "lab"}
    document["clusters"] = entries  # type: ignore[assignment]
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


@dataclass
class StandIn:
    api: CfApi
    state: labstate.LabState
    catalog: Path

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def account_id(self) -> str:
        return self.state.warp.account_id

    def calls(self, fragment: str = "") -> list[str]:
        return [p for p, _q in self.api.requests if fragment in p]


@contextmanager
def stand_in(tmp_path: Path, entries: list[dict[str, Any]]) -> Iterator[StandIn]:
    catalog = write_catalog(tmp_path / "catalog.yaml", entries)
    state = labstate.LabState()
    api = start_cfapi(
        state=lambda: state, catalog=catalog, account_id=state.warp.account_id, token=lambda: TOKEN
    )
    try:
        yield StandIn(api, state, catalog)
    finally:
        api.stop()
