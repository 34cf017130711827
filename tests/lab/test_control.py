"""Lab lifecycle (up, down, stale state) and `lab set`, each on a lab of its own."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztctl.errors import OperationFailed, UsageError
from ztctl.lab import control
from ztctl.lab import state as lab_state
from ztctl.lab.env import LabPaths, read_lab_file

from .client import request


@pytest.fixture
def own_lab(tmp_path: Path) -> Iterator[Path]:
    lab_dir = tmp_path / "lab"
    control.up(lab_dir)
    try:
        yield lab_dir
    finally:
        control.down(lab_dir)


def _port_closed(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_up_writes_files_and_serves(own_lab: Path) -> None:
    paths = LabPaths.of(own_lab)
    info = read_lab_file(paths)
    assert info is not None
    assert control.is_lab_process(info.pid, paths.root)
    for path in (paths.config, paths.catalog, paths.kubeconfig, paths.state_file, paths.log):
        assert path.is_file(), path
    for key in (
        "ca.key",
        "server.key",
        "client.key",
        "client-expired.key",
        "gateway-ca.key",
        "token",
    ):
        assert (paths.pki / key).stat().st_mode & 0o077 == 0, key
    assert request(paths, info.api_port, "/readyz").status == 200


def test_written_config_and_catalog_load_with_ztctl(own_lab: Path) -> None:
    from ztctl.core.catalog import load_catalog
    from ztctl.core.config import load_config

    paths = LabPaths.of(own_lab)
    info = read_lab_file(paths)
    assert info is not None
    config = load_config(paths.config, env={})
    assert config.team == "lab"
    assert config.warp.interface == "lo"
    assert config.catalog == str(paths.catalog)
    catalog = load_catalog(str(paths.catalog), paths.state_dir, env={})
    lab = catalog.get("lab")
    assert lab is not None
    assert lab.server == info.server
    assert lab.addresses == ("127.0.0.1",)
    assert lab.certificate_authority == paths.ca_cert
    assert lab.break_glass is not None
    assert lab.break_glass.route.url == info.proxy_url  # type: ignore[union-attr]
    assert catalog.get("lab-sso") is not None


def test_second_up_on_a_running_lab_is_a_clear_error(own_lab: Path) -> None:
    with pytest.raises(OperationFailed) as caught:
        control.up(own_lab)
    assert "already running" in caught.value.message
    assert f"ztctl lab down --dir {LabPaths.of(own_lab).root}" in caught.value.fix
    assert caught.value.exit_code == 1


def test_down_stops_the_process_and_frees_the_ports(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    info = control.up(lab_dir).info
    result = control.down(lab_dir)
    assert result.pid == info.pid and not result.killed
    assert not control.is_lab_process(info.pid, info.dir)
    assert (
        not Path(f"/proc/{info.pid}").exists() or "Z" in Path(f"/proc/{info.pid}/stat").read_text()
    )
    assert _port_closed(info.api_port)
    assert _port_closed(info.bastion_port)
    assert not info.paths.lab_file.exists()
    # A second down has nothing to stop.
    assert control.down(lab_dir).pid is None


def test_stale_lab_file_is_cleaned_up_by_up(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"pid": dead.pid, "api": {"port": 1}, "bastion": {"port": 2}, "edge": None}
    (lab_dir / "lab.json").write_text(json.dumps(stale))
    result = control.up(lab_dir)
    try:
        assert result.stale_pid == dead.pid
        assert result.info.pid != dead.pid
    finally:
        control.down(lab_dir)


def test_down_never_signals_a_process_that_is_not_the_lab(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    lab_dir.mkdir()
    # lab.json naming a live process that is not this lab's serve process (ourselves).
    stale = {"pid": os.getpid(), "api": {"port": 1}, "bastion": {"port": 2}, "edge": None}
    (lab_dir / "lab.json").write_text(json.dumps(stale))
    result = control.down(lab_dir)
    assert result.stale and result.pid is None
    assert not (lab_dir / "lab.json").exists()


def test_set_rejects_a_typo_with_a_suggestion_and_changes_nothing(own_lab: Path) -> None:
    before = lab_state.load(own_lab).to_dict()
    with pytest.raises(UsageError) as caught:
        control.set_values(own_lab, ["zt-path=blackhole", "zt_pth=up"])
    assert "unknown key 'zt_pth'" in caught.value.message
    assert "did you mean 'zt-path'" in caught.value.message
    assert lab_state.load(own_lab).to_dict() == before


@pytest.mark.parametrize(
    ("assignment", "fragment"),
    [
        ("zt-path=blackhol", "did you mean 'blackhole'"),
        ("latency=fast", "duration"),
        ("latency=-5ms", "between 0 and 60s"),
        ("inspection=maybe", "on/off"),
        ("warp.mode=wrap", "did you mean 'warp'"),
        ("warp.era=2022", "one of 2023"),
        ("client-cert=old", "valid, expired, notyet"),
        ("zt-path", "not KEY=VALUE"),
        ("posture.fail=disk_encrypton", "did you mean 'disk_encryption'"),
    ],
)
def test_set_validates_values(own_lab: Path, assignment: str, fragment: str) -> None:
    with pytest.raises(UsageError) as caught:
        control.set_values(own_lab, [assignment])
    assert fragment in caught.value.message


def test_set_reports_every_problem_at_once(own_lab: Path) -> None:
    with pytest.raises(UsageError) as caught:
        control.set_values(own_lab, ["foo=1", "latency=abc", "zt-path=up"])
    assert "2 bad assignments" in caught.value.message
    assert len(caught.value.details) == 2


def test_set_applies_values_and_reset_restores_the_default(own_lab: Path) -> None:
    result = control.set_values(
        own_lab,
        [
            "zt-path=reset",
            "inspection=on",
            "api=notready",
            "latency=250ms",
            "clock-skew=5m",
            "warp.connected=false",
            "warp.team=other",
            "warp.mode=proxy",
            "warp.era=2023",
            "warp.split=exclude-cluster",
            "posture.fail=disk_encryption,firewall",
        ],
    )
    assert [c.key for c in result.changes][:2] == ["zt-path", "inspection"]
    current = lab_state.load(own_lab)
    assert current.faults.zt_path == "reset"
    assert current.faults.tls_inspection is True
    assert current.faults.api_ready is False
    assert current.faults.latency_ms == 250
    assert current.faults.clock_skew_s == 300
    assert (current.warp.connected, current.warp.team, current.warp.mode) == (
        False,
        "other",
        "proxy",
    )
    assert current.warp.era == "2023"
    assert current.faults.posture_fail == ["disk_encryption", "firewall"]
    assert not lab_state.split_tunnel_sends(current.warp, "127.0.0.1")
    control.set_values(own_lab, ["reset"])
    assert lab_state.load(own_lab).to_dict() == lab_state.LabState().to_dict()


def test_set_without_a_lab_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as caught:
        control.set_values(tmp_path / "nothing", ["zt-path=up"])
    assert "ztctl lab up --dir" in caught.value.fix


def test_stand_in_wrappers_exec_the_lab_modules(own_lab: Path) -> None:
    paths = LabPaths.of(own_lab)
    for name, module in control.STAND_INS.items():
        wrapper = paths.bin / name
        from importlib.util import find_spec

        if find_spec(module) is None:
            assert not wrapper.exists()
            continue
        text = wrapper.read_text()
        assert os.access(wrapper, os.X_OK)
        assert f"-m {module} --lab-dir {paths.root}" in text
        assert text.startswith("#!/bin/sh\n")
