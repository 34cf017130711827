"""`ztctl use-cluster` as users run it: a real process, exit codes, text, JSON, picker."""

from __future__ import annotations

import base64
import functools
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

ZTCTL = [sys.executable, "-m", "ztctl"]
CA_DATA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")

CATALOG = {
    "apiVersion": "ztctl/v1",
    "kind": "ClusterCatalog",
    "team": "acme",
    "clusters": [
        {
            "name": "prod-eu",
            "server": "https://k8s.prod-eu.acme.net:6443",
            "addresses": ["203.0.113.10"],
            "certificateAuthorityData": CA_DATA.decode(),
            "namespace": "default",
            "credentials": {"clientCertificate": "/keys/prod.crt", "clientKey": "/keys/prod.key"},
        },
        {
            "name": "staging",
            "server": "https://k8s.staging.acme.net:6443",
            "addresses": ["198.51.100.20"],
            "certificateAuthorityData": CA_DATA.decode(),
            "credentials": {"accessToken": {"app": "https://k8s.staging.acme.net"}},
        },
    ],
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(CATALOG))
    return tmp_path


def env_for(home: Path, kubeconfig: Path | str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "ZTCTL_CATALOG": str(home / "catalog.yaml"),
        "ZTCTL_CONFIG": str(home / "absent.toml"),
        "ZTCTL_STATE_DIR": str(home / "state"),
        "KUBECONFIG": str(kubeconfig),
    }


@functools.cache
def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    proc = subprocess.run(["unshare", "-U", "true"], capture_output=True, timeout=10, check=False)
    return proc.returncode == 0


def run(
    home: Path,
    *args: str,
    kubeconfig: Path | str | None = None,
    unprivileged: bool = False,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run ztctl; ``unprivileged``: as root, drop file-permission overrides (unshare -U)."""
    prefix: list[str] = []
    if unprivileged and os.geteuid() == 0:
        if not _unshare_works():
            pytest.skip("running as root and `unshare -U` is unavailable to drop privileges")
        prefix = ["unshare", "-U"]
    return subprocess.run(
        [*prefix, *ZTCTL, *args],
        env=env_for(home, kubeconfig or home / ".kube" / "config"),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def snapshot(directory: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            out[str(path)] = "-> " + os.readlink(path)
        elif path.is_file():
            try:
                out[str(path)] = path.read_bytes()
            except PermissionError:
                out[str(path)] = f"mode {path.stat().st_mode:o}"
    return out


def test_text_output_and_second_run(home: Path) -> None:
    proc = run(home, "use-cluster", "prod-eu", "--no-probe")
    assert proc.returncode == 0, proc.stderr
    cfg = home / ".kube" / "config"
    assert proc.stdout.splitlines() == [
        f"kubeconfig {cfg} created (added cluster prod-eu, added user prod-eu, "
        "added context prod-eu, current-context prod-eu)",
        'Switched to context "prod-eu" (namespace default).',
    ]
    again = run(home, "use-cluster", "prod-eu", "--no-probe")
    assert again.returncode == 0
    assert again.stdout.splitlines() == [
        "kubeconfig already has prod-eu; nothing written",
        'Context "prod-eu" is current.',
    ]


def test_json_document(home: Path) -> None:
    proc = run(home, "use-cluster", "staging", "--json", "--no-probe", "-n", "web")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schemaVersion"] == 1
    assert doc["cluster"] == "staging" and doc["namespace"] == "web" and doc["switched"]
    assert {(c["kind"], c["action"]) for c in doc["changes"]} == {
        ("cluster", "add"),
        ("user", "add"),
        ("context", "add"),
        ("current-context", "set"),
    }
    assert doc["files"][0]["created"] is True and "diff" not in doc["files"][0]
    user = yaml.safe_load((home / ".kube" / "config").read_text())["users"][0]["user"]
    assert user["exec"]["command"] == "ztctl"
    assert user["exec"]["args"] == ["credential", "staging"]


def test_dry_run_prints_a_diff_and_writes_nothing(home: Path) -> None:
    cfg = home / "config"
    cfg.write_text("apiVersion: v1\nkind: Config\ncurrent-context: ''\n")
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--dry-run", kubeconfig=cfg)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"--- a{cfg}\n+++ b{cfg}\n@@ ")
    assert "+current-context: prod-eu\n" in proc.stdout
    assert "dry run: nothing was written" in proc.stderr
    assert snapshot(home) == before
    doc = json.loads(
        run(home, "use-cluster", "prod-eu", "--dry-run", "--json", kubeconfig=cfg).stdout
    )
    assert doc["dryRun"] is True and doc["files"][0]["diff"] == proc.stdout


def test_no_name_without_a_terminal_is_a_usage_error(home: Path) -> None:
    proc = run(home, "use-cluster")
    assert proc.returncode == 2
    assert "prod-eu, staging" in proc.stderr
    proc = run(home, "--no-input", "use-cluster", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["error"]["kind"] == "usage"


def _on_a_terminal(
    home: Path, args: list[str], answers: list[tuple[bytes, bytes]], extra: dict[str, str]
) -> tuple[int, str]:
    """Run ztctl on a pty; each (prompt seen, reply) is answered once, in order."""
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        env = {**env_for(home, home / "k"), "ZTCTL_IGNORE_FZF": "1", **extra}
        os.execve(sys.executable, [*ZTCTL, *args], env)  # noqa: S606
    output = b""
    deadline = time.monotonic() + 30
    pending = list(answers)
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if pending and pending[0][0] in output:
            os.write(fd, pending.pop(0)[1])
            output += b"<answered>"
    else:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_picker_on_a_terminal(home: Path) -> None:
    code, text = _on_a_terminal(
        home,
        ["use-cluster", "--no-probe"],
        [
            (b"(number or name)", b"stagn\n"),  # a typo first: suggested, asked again
            (b"did you mean 'staging'", b"2\n"),
        ],
        {},
    )
    assert code == 0, text
    assert "1)   prod-eu" in text and "2)   staging" in text
    assert 'Switched to context "staging"' in text


def test_picker_marks_the_current_context_and_takes_a_unique_prefix(home: Path) -> None:
    assert run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=home / "k").returncode == 0
    code, text = _on_a_terminal(
        home, ["use-cluster", "--no-probe"], [(b"(number or name)", b"st\n")], {}
    )
    assert code == 0, text
    lines = [line.strip() for line in text.splitlines()]
    marked = next(line for line in lines if "prod-eu" in line and ")" in line)
    assert marked.startswith("1) * prod-eu ")
    # The server column starts at the same place on every line.
    rows = [line for line in text.splitlines() if "https://" in line]
    assert len({row.index("https://") for row in rows}) == 1, rows
    assert 'Switched to context "staging"' in text


def test_picker_uses_fzf_when_it_is_on_path(home: Path, tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    fzf = fake / "fzf"
    # A stand-in fzf: records what it was offered and picks the line naming staging.
    fzf.write_text(f"#!/bin/sh\ntee {tmp_path / 'offered'} | grep staging\n")
    fzf.chmod(0o755)
    path = f"{fake}:{os.environ.get('PATH', '')}"
    code, text = _on_a_terminal(
        home, ["use-cluster", "--no-probe"], [], {"PATH": path, "ZTCTL_IGNORE_FZF": ""}
    )
    assert code == 0, text
    assert 'Switched to context "staging"' in text
    offered = (tmp_path / "offered").read_text().splitlines()
    assert [line.split()[0] for line in offered] == ["prod-eu", "staging"]


def test_dash_switches_back_to_the_previous_context(home: Path) -> None:
    kube = home / "k"
    first = run(home, "use-cluster", "-", "--no-probe", kubeconfig=kube)
    assert first.returncode == 3
    assert "no previous context" in first.stderr
    assert run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=kube).returncode == 0
    assert run(home, "use-cluster", "staging", "--no-probe", kubeconfig=kube).returncode == 0
    back = run(home, "use-cluster", "-", "--no-probe", kubeconfig=kube)
    assert back.returncode == 0, back.stderr
    assert 'Switched to context "prod-eu"' in back.stdout
    again = run(home, "use-cluster", "-", "--no-probe", kubeconfig=kube)
    assert 'Switched to context "staging"' in again.stdout
    current = subprocess.run(
        ["kubectl", "config", "current-context"],
        env={"KUBECONFIG": str(kube), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        text=True,
        check=False,
    )
    if shutil.which("kubectl"):
        assert current.stdout.strip() == "staging"


def test_dash_switches_back_to_a_context_ztctl_did_not_write(home: Path) -> None:
    kube = home / "k"
    kube.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: mine\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://10.9.9.9'}\n"
        "users:\n- name: u\n  user: {token: t}\n"
        "contexts:\n- name: mine\n  context: {cluster: c, user: u}\n"
    )
    assert run(home, "use-cluster", "staging", "--no-probe", kubeconfig=kube).returncode == 0
    back = run(home, "use-cluster", "-", "--json", kubeconfig=kube)
    assert back.returncode == 0, back.stderr
    document = json.loads(back.stdout)
    assert document["currentContext"] == "mine"
    assert document["previousContext"] == "staging"
    assert "current-context: mine" in kube.read_text()
    assert "clusters:\n- name: c" in kube.read_text()  # nothing else touched


def test_dash_back_to_a_foreign_context_is_audited_before_it_writes(home: Path) -> None:
    # (back to a catalog cluster, `-` is a use-cluster run, audited as such)
    kube = home / "k"
    kube.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: mine\n"
        "clusters:\n- name: c\n  cluster: {server: 'https://10.9.9.9'}\n"
        "users:\n- name: u\n  user: {token: t}\n"
        "contexts:\n- name: mine\n  context: {cluster: c, user: u}\n"
    )
    assert run(home, "use-cluster", "staging", "--no-probe", kubeconfig=kube).returncode == 0
    back = run(home, "use-cluster", "-", kubeconfig=kube)
    assert back.returncode == 0, back.stderr
    log = home / "state" / "audit.jsonl"
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["event"], last["context"]) == ("kubeconfig.write", "mine")
    assert last["files"] == [str(kube)]
    assert last["entries"] == [f"set current-context mine ({kube})"]

    # the audit log cannot be written: nothing is switched (exit 1, the file untouched)
    log.unlink()
    log.mkdir()
    before = kube.read_bytes()
    failed = run(home, "use-cluster", "-", kubeconfig=kube)
    assert failed.returncode == 1, failed.stderr
    assert "cannot record kubeconfig.write in the audit log" in failed.stderr
    assert kube.read_bytes() == before


def test_unknown_cluster_suggests_the_closest(home: Path) -> None:
    proc = run(home, "use-cluster", "prod-ue")
    assert proc.returncode == 3
    assert "did you mean 'prod-eu'" in proc.stderr


def test_invalid_namespace_is_a_usage_error(home: Path) -> None:
    proc = run(home, "use-cluster", "prod-eu", "--namespace", "Not_Valid")
    assert proc.returncode == 2
    assert "not a valid namespace" in proc.stderr


def test_duplicates_are_reported_on_stderr(home: Path) -> None:
    cfg = home / "config"
    cfg.write_text(
        "clusters:\n- name: gke_p_z_prod\n  cluster: {server: 'https://203.0.113.10:6443'}\n"
        "contexts:\n- name: gke\n  context: {cluster: gke_p_z_prod, user: u}\n"
        "users:\n- name: u\n  user: {token: t}\n"
    )
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg)
    assert proc.returncode == 0, proc.stderr
    assert "cluster gke_p_z_prod (catalog address 203.0.113.10:6443)" in proc.stderr
    assert "--prune-duplicates" in proc.stderr
    before = cfg.read_text()
    proc = run(home, "use-cluster", "prod-eu", "--dry-run", "--prune-duplicates", kubeconfig=cfg)
    assert proc.returncode == 0, proc.stderr
    assert "would remove context gke" in proc.stderr
    assert "removed" not in proc.stderr
    assert cfg.read_text() == before
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", "--prune-duplicates", kubeconfig=cfg)
    assert proc.returncode == 0, proc.stderr
    assert "removed context gke" in proc.stderr
    assert "gke" not in cfg.read_text()


def test_the_write_result_is_printed_before_the_probe_finishes(home: Path) -> None:
    """A probe that waits (a server that never answers TLS) must not hold back the result."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # the kernel completes TCP handshakes; nobody ever answers
    port = silent.getsockname()[1]
    catalog = {**CATALOG, "clusters": [dict(CATALOG["clusters"][0])]}
    from ztctl.lab.pki import ensure_pki

    pki = ensure_pki(home / "pki")
    catalog["clusters"][0].update(
        server=f"https://127.0.0.1:{port}",
        addresses=["127.0.0.1"],
        certificateAuthorityData=base64.b64encode(pki.ca_cert.read_bytes()).decode(),
        credentials={"clientCertificate": str(pki.client_cert), "clientKey": str(pki.client_key)},
    )
    (home / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    (home / "absent.toml").write_text("[doctor]\ntimeout = 2.5\n")
    started = time.monotonic()
    with (
        silent,
        subprocess.Popen(
            [*ZTCTL, "use-cluster", "prod-eu"],
            env=env_for(home, home / "k"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        ) as proc,
    ):
        assert proc.stdout is not None
        first_lines = [proc.stdout.readline(), proc.stdout.readline()]
        printed = time.monotonic() - started
        rest, _ = proc.communicate(timeout=60)
        finished = time.monotonic() - started
    assert 'Switched to context "prod-eu"' in "".join(first_lines)
    assert "API server check failed" in rest
    assert finished - printed > 1.5, (printed, finished, rest)


def test_held_lock_fails_with_exit_1_naming_it(home: Path) -> None:
    cfg = home / "config"
    cfg.write_text("kind: Config\n")
    (home / "config.lock").write_text("")
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg)
    assert proc.returncode == 1
    assert f"{cfg}.lock exists" in proc.stderr
    assert f"rm {cfg}.lock" in proc.stderr
    assert cfg.read_text() == "kind: Config\n"


BAD = {
    "invalid-yaml": b"apiVersion: v1\nclusters: [\n",
    "duplicate-names": b"users:\n- {name: u, user: {}}\n- {name: u, user: {}}\n",
    "wrong-types": b"clusters:\n- name: x\n  cluster: {insecure-skip-tls-verify: 'yes'}\n",
    "binary": bytes(range(256)),
    "not-a-mapping": b"- a\n- b\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_kubeconfig_exits_3_and_changes_no_byte(home: Path, case: str) -> None:
    good = home / "good"
    good.write_text("apiVersion: v1\nkind: Config\n")
    bad = home / "bad"
    bad.write_bytes(BAD[case])
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=f"{good}:{bad}")
    assert proc.returncode == 3, proc.stderr
    assert f"kubeconfig {bad}" in proc.stderr and "fix:" in proc.stderr
    assert snapshot(home) == before
    doc = json.loads(
        run(home, "use-cluster", "prod-eu", "--json", kubeconfig=f"{good}:{bad}").stdout
    )
    assert doc["error"]["code"] == 3 and doc["error"]["kind"] == "invalid-input"


def test_dangling_symlink_exits_3(home: Path) -> None:
    link = home / "config"
    link.symlink_to(home / "dotfiles" / "kubeconfig")
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=link)
    assert proc.returncode == 3
    assert "does not exist" in proc.stderr and "dangling" in proc.stderr
    assert snapshot(home) == before


def test_unreadable_file_exits_3(home: Path) -> None:
    cfg = home / "config"
    cfg.write_text("kind: Config\n")
    cfg.chmod(0)
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg, unprivileged=True)
    assert proc.returncode == 3, proc.stderr
    assert "permission denied" in proc.stderr
    cfg.chmod(0o600)
    assert cfg.read_text() == "kind: Config\n"
    assert snapshot(home) == {**before, str(cfg): b"kind: Config\n"}


def test_read_only_directory_exits_3(home: Path) -> None:
    directory = home / "ro"
    directory.mkdir()
    cfg = directory / "config"
    cfg.write_text("kind: Config\n")
    directory.chmod(0o555)
    try:
        before = snapshot(home)
        proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg, unprivileged=True)
        assert proc.returncode == 3, proc.stderr
        assert f"creating {cfg}.lock failed" in proc.stderr
        assert snapshot(home) == before
    finally:
        directory.chmod(0o755)


def test_zero_byte_file_is_refused_and_left_alone(home: Path) -> None:
    # kubectl reads it as empty, but it is usually what a killed in-place write leaves:
    # merging into it would make that loss permanent (issue 4: 0-byte file -> exit 3).
    cfg = home / "config"
    cfg.write_bytes(b"")
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg)
    assert proc.returncode == 3, proc.stderr
    assert "is empty (0 bytes)" in proc.stderr
    assert "delete it if it should be empty" in proc.stderr
    assert snapshot(home) == before
    # Deleting it, as the fix says, lets ztctl create it anew.
    cfg.unlink()
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", kubeconfig=cfg)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(cfg.read_text())["current-context"] == "prod-eu"


# --- against the lab API server (real TLS, client certificates) ---------------------------


def test_lab_kubectl_and_python_client_use_what_ztctl_wrote(
    lab: Any, kubectl: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "kubeconfig"
    env = {"KUBECONFIG": str(cfg)}
    proc = lab.run([*ZTCTL, "use-cluster", "lab"], env=env)  # --probe is on by default
    assert proc.returncode == 0, proc.stderr
    assert 'Switched to context "lab"' in proc.stdout
    assert "API server answers" in proc.stdout and "as lab-admin" in proc.stdout

    readyz = lab.run([kubectl, "get", "--raw", "/readyz"], env=env)
    assert readyz.returncode == 0, readyz.stderr
    assert readyz.stdout.strip() == "ok"
    whoami = lab.run([kubectl, "auth", "whoami", "-o", "json"], env=env)
    assert whoami.returncode == 0, whoami.stderr
    assert json.loads(whoami.stdout)["status"]["userInfo"]["username"] == "lab-admin"

    from kubernetes import client, config

    api = config.new_client_from_config(config_file=str(cfg))
    try:
        version = client.VersionApi(api).get_code(_request_timeout=10)
    finally:
        api.close()
    assert version.git_version.startswith("v")


def test_lab_json_carries_the_probe(lab: Any, tmp_path: Path) -> None:
    env = {"KUBECONFIG": str(tmp_path / "kubeconfig")}
    proc = lab.run([*ZTCTL, "use-cluster", "lab", "--json"], env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["probe"]["ok"] is True and doc["probe"]["readyz"] == "ok"
    again = json.loads(
        lab.run([*ZTCTL, "use-cluster", "lab", "--json", "--no-probe"], env=env).stdout
    )
    assert "probe" not in again and again["changed"] is False


def test_lab_kubeconfig_entries_are_adopted(lab: Any, tmp_path: Path) -> None:
    """`ztctl lab up` writes unmarked entries identical to the catalog's: no conflict."""
    cfg = tmp_path / "kubeconfig"
    cfg.write_bytes(lab.kubeconfig.read_bytes())
    proc = lab.run(
        [*ZTCTL, "use-cluster", "lab", "--no-probe", "--json"], env={"KUBECONFIG": str(cfg)}
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["duplicates"] == []


def test_use_cluster_imports_no_heavy_library(home: Path) -> None:
    env = env_for(home, home / "config")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ztctl", "use-cluster", "prod-eu", "--no-probe"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    for heavy in ("httpx", "kubernetes", "rich", "keyring", "cryptography", "ztctl.lab"):
        assert heavy not in imported


@pytest.mark.parametrize("existing", [False, True])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_audit_log_that_cannot_be_written_fails_closed(
    home: Path, existing: bool, json_flag: list[str]
) -> None:
    """Hostile-user finding 6: with the audit log unwritable (here a directory) use-cluster
    wrote the kubeconfig and exited 0 with a warning. Now: exit 1, no byte written."""
    cfg = home / "kube" / "config"
    if existing:
        cfg.parent.mkdir()
        cfg.write_text("apiVersion: v1\nkind: Config\ncurrent-context: mine\n")
    (home / "state" / "audit.jsonl").mkdir(parents=True)
    before = snapshot(home)
    proc = run(home, "use-cluster", "prod-eu", "--no-probe", *json_flag, kubeconfig=cfg)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert snapshot(home) == before  # no kubeconfig, no backup, no lock left behind
    assert cfg.exists() is existing
    if json_flag:
        error = json.loads(proc.stdout)["error"]
        assert error["code"] == 1
        message, fix = error["message"], error["fix"]
    else:
        message, fix = proc.stderr, proc.stderr
    assert f"cannot record kubeconfig.write in the audit log {home}/state/audit.jsonl" in message
    assert "nothing that needs the audit trail was done" in fix


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "is a FIFO (named pipe), not a regular file"


def _directory(path: Path) -> str:
    path.mkdir()
    return "is a directory, not a regular file"


def _too_large(path: Path) -> str:
    path.write_text("x" * 5000)
    return "is larger than 4096 bytes"


def _device(path: Path) -> str:
    path.symlink_to("/dev/zero")
    return "is a character device, not a regular file"


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and /dev/zero as on POSIX")
@pytest.mark.parametrize("make", [_fifo, _directory, _too_large, _device])
def test_dash_refuses_a_previous_context_that_is_not_a_small_regular_file(
    home: Path, make: Any
) -> None:
    """A FIFO in its place made `use-cluster -` wait for ever (second hostile tryout, N5)."""
    state = home / "state"
    state.mkdir(mode=0o700)
    path = state / "previous-context"
    said = make(path)
    kube = home / "k"
    result = run(home, "use-cluster", "-", "--no-probe", kubeconfig=kube, timeout=20)
    assert result.returncode == 3, result.stderr
    assert f"error: {path}, where ztctl keeps the previous context, {said}" in result.stderr
    assert (
        f"fix: remove it (rm -r {path}); the next `ztctl use-cluster NAME` writes it again"
        in result.stderr
    )
    assert not kube.exists()
