"""`ztctl probe` as a user runs it: a real process against the lab, with real kubectl as
the oracle for what "reachable" means."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest

ZTCTL = [sys.executable, "-m", "ztctl"]


def probe(lab: Any, *args: str, timeout: float = 30) -> Any:
    return lab.run([*ZTCTL, "probe", *args], timeout=timeout)


def test_healthy_text_shows_every_phase(lab: Any) -> None:
    proc = probe(lab, "lab")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for phase in ("dns", "connect", "tls", "first byte", "total", "readyz", "version", "user"):
        assert f"\n  {phase}" in out
    assert "zero-trust → 127.0.0.1 (catalog address)" in out
    assert "lab-admin" in out and out.rstrip().endswith("ready")


def test_json_is_one_contract_document(lab: Any) -> None:
    proc = probe(lab, "lab", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schemaVersion"] == 1
    assert doc["cluster"] == "lab" and doc["route"] == "zero-trust" and doc["ok"] is True
    assert doc["server"] == lab.server and doc["address"] == "127.0.0.1"
    assert doc["readyz"] == "ok" and doc["user"] == "lab-admin"
    assert doc["certificate"]["issuer"] and doc["certificate"]["notAfter"]
    assert all(isinstance(doc["timings"][k], float) for k in ("dnsMs", "tlsMs", "totalMs"))


def test_cluster_defaults_to_the_current_context(lab: Any) -> None:
    proc = probe(lab, "--json")
    assert proc.returncode == 0, proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["cluster"] == "lab" and doc["context"] == "lab"  # the lab kubeconfig's current


def test_unknown_cluster_is_invalid_input(lab: Any) -> None:
    proc = probe(lab, "labb")
    assert proc.returncode == 3
    assert "did you mean 'lab'" in proc.stderr


def test_black_hole_exits_5_within_the_timeout(lab: Any) -> None:
    lab.set(zt_path="blackhole")
    started = time.monotonic()
    proc = probe(lab, "lab", "--route", "zero-trust", "--timeout", "1", "--json")
    elapsed = time.monotonic() - started
    assert proc.returncode == 5
    doc = json.loads(proc.stdout)
    assert doc["ok"] is False and doc["error"]["kind"] == "timeout"
    assert doc["timings"]["connectMs"] is not None and doc["timings"]["tlsMs"] is None
    assert elapsed < 1 + 4  # the timeout, plus interpreter start-up on a busy CI box


def test_auto_points_at_break_glass_when_zero_trust_is_down(lab: Any) -> None:
    lab.set(zt_path="reset")
    proc = probe(lab, "lab")
    assert proc.returncode == 5
    assert "reset the connection" in proc.stderr
    assert f"break-glass: the API server answers through {lab.proxy_url}" in proc.stderr
    assert "ztctl break-glass start lab" in proc.stderr


def test_break_glass_route_while_zero_trust_is_down(lab: Any) -> None:
    lab.set(zt_path="blackhole")
    proc = probe(lab, "lab", "--route", "break-glass", "--json")
    assert proc.returncode == 0, proc.stdout
    doc = json.loads(proc.stdout)
    assert doc["route"] == "break-glass" and doc["via"] == lab.proxy_url
    assert "proxyMs" in doc["timings"]


@pytest.mark.parametrize("route", ["zero-trust", "auto"])
def test_inspection_is_named_in_text(lab: Any, route: str) -> None:
    lab.set(inspection=True)
    proc = probe(lab, "lab", "--route", route)
    assert proc.returncode == 5
    assert "TLS inspection by Cloudflare Gateway" in proc.stderr
    assert "Do Not Inspect" in proc.stderr  # auto adds break-glass, never drops the fix
    assert "(NOT trusted)" in proc.stdout


@pytest.mark.parametrize(
    ("fault", "code", "kind"),
    [({"api": "notready"}, 1, "not-ready"), ({"client_cert": "expired"}, 4, "unauthenticated")],
)
def test_answered_but_not_usable(lab: Any, fault: dict[str, str], code: int, kind: str) -> None:
    lab.set(**fault)
    proc = probe(lab, "lab", "--json")
    assert proc.returncode == code
    assert json.loads(proc.stdout)["error"]["kind"] == kind


def test_count_prints_percentiles_and_plain_progress_without_a_tty(lab: Any) -> None:
    proc = probe(lab, "lab", "--count", "3", "--interval", "0", "--json")
    assert proc.returncode == 0, proc.stderr
    samples = json.loads(proc.stdout)["samples"]
    for key in ("count", "lost", "p50Ms", "p90Ms", "p99Ms", "maxMs"):
        assert key in samples
    assert samples["count"] == 3 and samples["lost"] == 0
    assert samples["fresh"]["count"] == 3
    progress = [line.split()[:2] for line in proc.stderr.splitlines()]
    assert progress == [[kind, f"{i}/3"] for kind in ("kept-alive", "fresh") for i in (1, 2, 3)]
    assert "\r" not in proc.stderr


def test_count_text_summary(lab: Any) -> None:
    proc = lab.run([*ZTCTL, "-q", "probe", "lab", "--count", "2", "--interval", "0"])
    assert proc.returncode == 0
    assert "kept-alive p50" in proc.stdout and "fresh      p50" in proc.stdout
    assert "kept-alive " not in proc.stderr  # --quiet: no progress lines


# kubectl is the oracle: probe's verdict must match what kubectl experiences.
@pytest.mark.parametrize(
    ("fault", "kubectl_ok"),
    [({}, True), ({"zt_path": "blackhole"}, False), ({"client_cert": "expired"}, False)],
)
def test_probe_agrees_with_kubectl(
    lab: Any, kubectl: str, fault: dict[str, str], kubectl_ok: bool
) -> None:
    if fault:
        lab.set(**fault)
    real = lab.run(
        [kubectl, "--request-timeout=2s", "--context", "lab", "get", "--raw", "/api"],
        timeout=20,
    )
    ours = probe(lab, "lab", "--route", "zero-trust", "--timeout", "2", "--json")
    assert (real.returncode == 0) is kubectl_ok, real.stderr
    assert (ours.returncode == 0) is kubectl_ok, ours.stdout


def test_verbose_adds_where_each_phase_went(lab: Any) -> None:
    quiet = probe(lab, "lab").stdout
    proc = probe(lab, "lab", "-v")
    assert proc.returncode == 0, proc.stderr
    port = lab.server.rsplit(":", 1)[1]
    connect = next(line for line in proc.stdout.splitlines() if line.startswith("  connect"))
    assert f"127.0.0.1:{port}" in connect
    assert "subject" in proc.stdout and "CN=kube-apiserver" in proc.stdout
    assert "verified            yes" in proc.stdout
    assert "subject" not in quiet and f"127.0.0.1:{port}" not in quiet
