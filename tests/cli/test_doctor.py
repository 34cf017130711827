"""`ztctl doctor` end to end on the lab: exit codes, the contract JSON, plain text with
fixes, cluster selection, and a hung warp-cli bounded by --timeout."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.access import ztctl_argv

DEVICE_IDS = [
    "warp.cli",
    "warp.daemon",
    "warp.registration",
    "warp.connected",
    "warp.mode",
    "warp.split-tunnel",
    "net.trace",
    "device.clock",
    "device.posture",
]
CLUSTER_IDS = [
    "cluster.dns",
    "cluster.route",
    "cluster.credentials",
    "cluster.tcp",
    "cluster.tls",
    "cluster.api",
    "cluster.auth",
]
SERVER_IDS = ["cf.api", "cf.device", "cf.gateway"]  # the lab configures its Cloudflare API
SERVER_CLUSTER_IDS = ["cf.route", "cf.tunnel", "cf.split-tunnel", "cf.inspection"]
KEYS = {"id", "title", "status", "summary", "fix", "cluster", "durationMs", "data"}


def doctor(lab, *args: str, faults: tuple[str, ...] = (), server: bool = False, **kwargs):  # type: ignore[no-untyped-def]
    """The local checks only, unless ``server`` (the lab configures its Cloudflare API;
    tests/cli/test_doctor_server.py covers the cf.* checks)."""
    lab.set_many("reset", *faults)
    flag = [] if server else ["--no-server"]
    return lab.run([*ztctl_argv(), "doctor", *flag, *args], **kwargs)


def document(proc) -> dict:  # type: ignore[no-untyped-def,type-arg]
    doc = json.loads(proc.stdout)  # exactly one JSON document, nothing else on stdout
    assert isinstance(doc, dict)
    return doc


def test_healthy_lab_json_is_the_contract_document(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab, "--json", server=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = document(proc)
    assert doc["schemaVersion"] == 1 and doc["ok"] is True
    ids = DEVICE_IDS + CLUSTER_IDS + SERVER_IDS + SERVER_CLUSTER_IDS
    assert [c["id"] for c in doc["checks"]] == ids
    for check in doc["checks"]:
        assert set(check) >= KEYS, check
        assert check["status"] in ("pass", "warn", "skip"), check
        assert isinstance(check["durationMs"], (int, float))
        per_cluster = check["id"].startswith("cluster.") or check["id"] in SERVER_CLUSTER_IDS
        assert check["cluster"] == ("lab" if per_cluster else None)
    assert doc["clusters"] == ["lab"]  # the current context's catalog cluster


def test_healthy_lab_plain_text(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    for check_id in DEVICE_IDS + CLUSTER_IDS:
        assert any(check_id in line for line in lines), check_id
    assert "FAIL" not in proc.stdout
    assert lines[-1].startswith("no check failed:")
    assert "\x1b[" not in proc.stdout  # no colour when not on a terminal


def test_a_fault_exits_1_and_prints_its_fix(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab, "--timeout", "3", faults=("warp.connected=false",))
    assert proc.returncode == 1
    assert "FAIL  warp.connected" in proc.stdout
    assert "To fix:" in proc.stdout
    fixes = proc.stdout.split("To fix:", 1)[1]
    assert "warp.connected: run `warp-cli connect`" in fixes
    assert "ztctl break-glass start lab --reason" in fixes


def test_black_holed_path_json(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab, "--json", "--timeout", "3", faults=("zt-path=blackhole",))
    assert proc.returncode == 1
    doc = document(proc)
    assert doc["ok"] is False
    failing = {c["id"]: c for c in doc["checks"] if c["status"] == "fail"}
    assert set(failing) == {"cluster.tls"}
    assert "ztctl break-glass start lab --reason" in failing["cluster.tls"]["fix"]


def test_hung_warp_cli_returns_and_says_so(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab, "--json", "--timeout", "1", faults=("warp.hang=on",), timeout=20)
    assert proc.returncode == 1
    checks = {c["id"]: c for c in document(proc)["checks"]}
    assert checks["warp.daemon"]["status"] == "fail"
    assert "hung" in checks["warp.daemon"]["summary"]
    assert checks["warp.mode"]["status"] == "skip"


def test_named_and_all_clusters(lab) -> None:  # type: ignore[no-untyped-def]
    doc = document(doctor(lab, "--json", "lab-sso"))
    assert doc["clusters"] == ["lab-sso"]
    doc = document(doctor(lab, "--json", "--all"))
    assert doc["clusters"] == ["lab", "lab-sso"]
    assert len(doc["checks"]) == len(DEVICE_IDS) + 2 * len(CLUSTER_IDS)


def test_unknown_cluster_is_invalid_input(lab) -> None:  # type: ignore[no-untyped-def]
    proc = doctor(lab, "lba")
    assert proc.returncode == 3
    assert "no cluster named 'lba'" in proc.stderr and "lab" in proc.stderr
    proc = doctor(lab, "--json", "lba")
    assert json.loads(proc.stdout)["error"]["code"] == 3


def test_names_and_all_together_are_a_usage_error(lab) -> None:  # type: ignore[no-untyped-def]
    assert doctor(lab, "lab", "--all").returncode == 2


def test_without_a_current_catalog_cluster_only_the_device_is_checked(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n", encoding="utf-8")
    proc = doctor(lab, "--json", env={"KUBECONFIG": str(kubeconfig)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = document(proc)
    assert [c["id"] for c in doc["checks"]] == DEVICE_IDS
    assert "--all" in doc["note"]
    assert doc["checks"][DEVICE_IDS.index("warp.split-tunnel")]["status"] == "skip"


def test_config_timeout_is_used(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "config.toml"
    text = lab.paths.config.read_text(encoding="utf-8").replace("timeout = 3.0", "timeout = 1.0")
    config.write_text(text, encoding="utf-8")
    proc = doctor(lab, "--json", faults=("warp.hang=on",), env={"ZTCTL_CONFIG": str(config)})
    checks = {c["id"]: c for c in document(proc)["checks"]}
    assert "within 0.9 s" in checks["warp.daemon"]["summary"]


def test_verbose_shows_the_data_of_passing_checks(lab) -> None:  # type: ignore[no-untyped-def]
    plain = doctor(lab).stdout
    proc = doctor(lab, "-v")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    details = proc.stdout.split("Details:", 1)[1]
    assert "  warp.cli\n    path: " in details and "version: " in details
    assert "  cluster.dns (lab)\n" in details  # per-cluster checks name their cluster
    assert "Details:" not in plain


PLANTED = "Pl4nted-UrlSecret-31337"


def _lab_trace_url(lab) -> str:  # type: ignore[no-untyped-def]
    text = lab.paths.config.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith("trace_url = "))
    return str(json.loads(line.split("=", 1)[1]))


def _planted_config(lab, tmp_path: Path, trace_url: str) -> Path:  # type: ignore[no-untyped-def]
    text = lab.paths.config.read_text(encoding="utf-8")
    config = tmp_path / "config.toml"
    lines = [line for line in text.splitlines() if not line.startswith("trace_url =")]
    at = lines.index("[warp]") + 1
    lines.insert(at, f"trace_url = {json.dumps(trace_url)}")
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_a_secret_in_a_url_query_never_leaves_doctor_or_its_bundle(  # type: ignore[no-untyped-def]
    lab, tmp_path: Path
) -> None:
    """A credential in the trace URL's query (accepted: a presigned URL is a fine setting)
    comes out as *** in doctor's text, --json, -v data and every member of the bundle."""
    from ztctl.core.bundle import read_members

    working = f"{_lab_trace_url(lab)}?token={PLANTED}&X-Amz-Signature={PLANTED}&ref=x"
    dead = f"http://127.0.0.1:1/cdn-cgi/trace?sig={PLANTED}&access_token={PLANTED}"
    for trace_url, status in ((working, "pass"), (dead, "fail")):
        env = {"ZTCTL_CONFIG": str(_planted_config(lab, tmp_path, trace_url))}
        bundle = tmp_path / f"b-{status}.tar.gz"
        shown = doctor(lab, "--json", "--bundle", str(bundle), env=env)
        checks = {c["id"]: c for c in document(shown)["checks"]}
        assert checks["net.trace"]["status"] == status, checks["net.trace"]
        assert "=***" in checks["net.trace"]["data"]["url"]
        if status == "fail":
            assert "sig=***" in checks["net.trace"]["summary"]
        text = doctor(lab, "-v", env=env)
        assert "token=***" in text.stdout or "sig=***" in text.stdout
        members = read_members(bundle)
        config_json = next(t for m, t in members.items() if m.endswith("/config.json"))
        assert "=***" in json.loads(config_json)["warp"]["trace_url"]
        for output in (shown.stdout, shown.stderr, text.stdout, text.stderr, *members.values()):
            assert PLANTED not in output


def test_a_secret_in_the_catalog_query_never_leaves_doctor(lab) -> None:  # type: ignore[no-untyped-def]
    url = f"https://127.0.0.1:1/c.yaml?X-Amz-Credential={PLANTED}&X-Amz-Signature={PLANTED}"
    for flags in ((), ("--json",)):
        proc = doctor(lab, *flags, env={"ZTCTL_CATALOG": url})
        assert proc.returncode == 3, proc.stdout + proc.stderr
        assert "cannot fetch catalog" in proc.stdout + proc.stderr
        assert "X-Amz-Signature=***" in proc.stdout + proc.stderr
        assert PLANTED not in proc.stdout + proc.stderr
