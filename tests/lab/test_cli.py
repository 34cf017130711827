"""`ztctl lab ...` as a user runs it: a real subprocess of ztctl, a lab of its own."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from ztctl.lab import control
from ztctl.lab.demo import FAIL, OK, SKIP, STEPS, Step, StepFailed, run_demo

ZTCTL = [sys.executable, "-m", "ztctl"]


def ztctl(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*ZTCTL, *map(str, args)], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_up_status_set_down_round_trip(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    up = ztctl("lab", "up", "--dir", lab_dir)
    try:
        assert up.returncode == 0, up.stderr
        exports = up.stdout.splitlines()
        assert f"export KUBECONFIG={lab_dir.resolve()}/kubeconfig" in exports
        assert f"export ZTCTL_CONFIG={lab_dir.resolve()}/config.toml" in exports
        assert f'export PATH={lab_dir.resolve()}/bin:"$PATH"' in exports
        again = ztctl("lab", "up", "--dir", lab_dir)
        assert again.returncode == 1
        assert "ztctl lab down --dir" in again.stderr

        bad = ztctl("lab", "set", "--dir", lab_dir, "latncy=5ms")
        assert bad.returncode == 2
        assert "did you mean 'latency'" in bad.stderr

        changed = ztctl("lab", "set", "--dir", lab_dir, "zt-path=reset", "--json")
        assert changed.returncode == 0, changed.stderr
        assert json.loads(changed.stdout)["state"]["faults"]["zt_path"] == "reset"

        status = json.loads(ztctl("lab", "status", "--dir", lab_dir, "--json").stdout)
        assert status["schemaVersion"] == 1 and status["running"] is True
        assert status["state"]["faults"]["zt_path"] == "reset"
    finally:
        down = ztctl("lab", "down", "--dir", lab_dir, "--json")
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["stopped"] is True
    status = json.loads(ztctl("lab", "status", "--dir", lab_dir, "--json").stdout)
    assert status["running"] is False


def test_lab_dir_defaults_to_the_environment_variable(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "ZTCTL_LAB_DIR": str(tmp_path / "envlab")}
    result = ztctl("lab", "status", "--json", env=env)
    assert json.loads(result.stdout)["dir"] == str((tmp_path / "envlab").resolve())


def test_demo_passes_end_to_end(tmp_path: Path) -> None:
    result = ztctl("lab", "demo", "--dir", tmp_path / "demo", "--json")
    document = json.loads(result.stdout)
    statuses = {step["name"]: step["status"] for step in document["steps"]}
    assert result.returncode == 0, document
    assert document["ok"] is True
    assert statuses["lab-up"] == OK and statuses["lab-down"] == OK
    expected = SKIP if shutil.which("kubectl") is None else OK
    assert statuses["break-glass"] == expected
    assert statuses["use-cluster"] == expected  # it proves the merged file with kubectl
    # Every capability's step ran: the tour is the README's main job.
    for name in ("login", "probe-healthy", "doctor", "doctor-outage", "break-glass-start"):
        assert statuses[name] == OK, (name, document)
    assert control.running_lab(tmp_path / "demo") is None


def test_demo_reports_a_misbehaving_step_and_still_stops_the_lab(tmp_path: Path) -> None:
    def misbehave(_tour: object) -> str:
        raise StepFailed("the lab did something unexpected")

    steps = [STEPS[0], Step("broken", "A broken step", misbehave), STEPS[1], STEPS[-1]]
    seen: list[str] = []
    result = run_demo(tmp_path / "demo", steps=steps, on_result=lambda r: seen.append(r.status))
    assert seen == [OK, FAIL, SKIP, OK]
    assert not result.ok
    assert result.failed is not None and result.failed.name == "broken"
    assert control.running_lab(tmp_path / "demo") is None


def test_insert_step_places_a_later_capability_before_a_named_step(monkeypatch) -> None:
    from ztctl.lab import demo

    monkeypatch.setattr(demo, "STEPS", list(demo.STEPS))
    extra = Step("probe", "Probe the cluster", lambda _tour: "ok")
    demo.insert_step(extra, before="outage")
    names = [s.name for s in demo.STEPS]
    assert names.index("probe") == names.index("outage") - 1
    assert len(set(names)) == len(names)
