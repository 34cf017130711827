"""Shared fixtures: a real lab running in the background, for every test suite.

``lab_session`` runs the same machinery as ``ztctl lab up`` (a detached
``python -m ztctl.lab.serve`` process on free loopback ports) once per test session —
once per xdist worker — and stops it at the end. Tests use the function-scoped ``lab``
fixture, which hands out that lab and puts its state back to the healthy default after the
test (``ztctl lab set reset``), so faults never leak from one test into the next.

    def test_something(lab, kubectl):
        lab.set(zt_path="blackhole")                 # or lab.set_many("warp.connected=false")
        proc = lab.run([kubectl, "get", "--raw", "/readyz"])
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ztctl.lab.env import LabInfo, LabPaths


@dataclass
class Lab:
    """A running lab and helpers to drive it."""

    info: LabInfo
    env: dict[str, str]  # os.environ plus the lab's export lines (ZTCTL_*, KUBECONFIG, PATH)

    @property
    def dir(self) -> Path:
        return self.info.dir

    @property
    def paths(self) -> LabPaths:
        return self.info.paths

    @property
    def api_port(self) -> int:
        return self.info.api_port

    @property
    def bastion_port(self) -> int:
        return self.info.bastion_port

    @property
    def edge_port(self) -> int | None:
        return self.info.edge_port

    @property
    def server(self) -> str:
        """``https://localhost:PORT``"""
        return self.info.server

    @property
    def proxy_url(self) -> str:
        """``socks5://127.0.0.1:PORT`` (the bastion)"""
        return self.info.proxy_url

    @property
    def kubeconfig(self) -> Path:
        return self.paths.kubeconfig

    def set_many(self, *assignments: str) -> None:
        """``lab.set_many("zt-path=blackhole", "warp.connected=false")``, like ``ztctl lab set``."""
        from ztctl.lab.control import set_values

        set_values(self.dir, list(assignments))

    def set(self, **values: Any) -> None:
        """``lab.set(zt_path="blackhole", warp__connected=False, latency="250ms")``.

        ``_`` in a name stands for ``-`` and ``__`` for ``.``; booleans become on/off.
        """
        assignments = []
        for name, value in values.items():
            key = name.replace("__", ".").replace("_", "-")
            text = ("on" if value else "off") if isinstance(value, bool) else str(value)
            assignments.append(f"{key}={text}")
        self.set_many(*assignments)

    def reset(self) -> None:
        self.set_many("reset")

    def state(self) -> Any:
        """The current :class:`ztctl.lab.state.LabState`."""
        from ztctl.lab import state

        return state.load(self.dir)

    def bastion_kubeconfig(self, path: Path) -> Path:
        """A copy of the lab kubeconfig with ``proxy-url`` pointing at the bastion."""
        from ztctl.lab.env import write_bastion_kubeconfig

        return write_bastion_kubeconfig(self.info, path)

    def run(
        self, args: Sequence[str | Path], *, timeout: float = 30, **kwargs: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with the lab's environment, capturing text output."""
        env = {**self.env, **kwargs.pop("env", {})}
        return subprocess.run(
            [str(a) for a in args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,
        )


@pytest.fixture(scope="session")
def lab_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One background lab per test session (per xdist worker). Prefer ``lab``."""
    import os

    from ztctl.lab import control

    lab_dir = tmp_path_factory.mktemp("lab")
    result = control.up(lab_dir)
    try:
        yield Lab(result.info, {**os.environ, **result.info.env()})
    finally:
        control.down(lab_dir)


@pytest.fixture
def lab(lab_session: Lab) -> Iterator[Lab]:
    """The session's lab; its state is reset to the healthy default after the test."""
    try:
        yield lab_session
    finally:
        lab_session.reset()


@pytest.fixture(scope="session")
def kubectl() -> str:
    """The real kubectl binary; tests that need it are skipped where it is not installed."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.skip("kubectl not installed")
    return path
