"""The trust model for catalog commands (issue 15 item 1, docs/security.md): shown in full,
approved once, pinned by fingerprint, asked again when changed, refused (exit 4) without a
terminal, approvable in CI through ZTCTL_TRUST; and a catalog exec plugin is never run by
doctor or probe for a cluster that is not in kubeconfig."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ztctl.core import audit, trust
from ztctl.core.model import BreakGlass, Cluster, ExecCredential, VpnRoute

PWN = trust.CatalogCommand("lab", trust.EXEC_PLUGIN, ("pwn.sh", "--x", "a b"), (("K", "v"),))


def cluster(command: str = "pwn.sh", env: tuple[tuple[str, str], ...] = ()) -> Cluster:
    return Cluster(
        name="lab",
        server="https://127.0.0.1:6443",
        addresses=("127.0.0.1",),
        credentials=ExecCredential(command=command, args=("get-token",), env=env),
        break_glass=BreakGlass(
            VpnRoute(up=("sh", "-c", "id > /tmp/x"), down=("true",), interface="lo")
        ),
    )


def test_every_catalog_command_of_a_cluster_is_listed_in_full() -> None:
    commands = trust.commands_of(cluster(env=(("A", "1"),)))
    assert [c.purpose for c in commands] == [trust.EXEC_PLUGIN, trust.VPN_UP, trust.VPN_DOWN]
    assert commands[0].display() == "A=1 pwn.sh get-token"
    assert commands[1].display() == "sh -c 'id > /tmp/x'"


def test_the_fingerprint_covers_command_args_and_env() -> None:
    base = trust.exec_command(cluster())
    assert base is not None
    others = [
        trust.exec_command(cluster(command="other.sh")),
        trust.exec_command(cluster(env=(("A", "1"),))),
        trust.CatalogCommand("lab", trust.EXEC_PLUGIN, ("pwn.sh", "get-token", "x")),
    ]
    assert all(o is not None and o.fingerprint != base.fingerprint for o in others)
    assert base.fingerprint.startswith("sha256:") and len(base.fingerprint) == 71


def test_without_a_terminal_an_unapproved_command_is_exit_4_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(trust.UntrustedCommand) as info:
        trust.require(tmp_path, [PWN], interactive=False, confirm=None, env={})
    error = info.value
    assert error.exit_code == 4
    assert PWN.fingerprint in error.fix and "ZTCTL_TRUST" in error.fix
    assert any("pwn.sh --x 'a b'" in line for line in error.details)
    assert not (tmp_path / trust.TRUST_FILE).exists()


def test_ztctl_trust_approves_a_fingerprint_without_asking(tmp_path: Path) -> None:
    trust.require(
        tmp_path, [PWN], interactive=False, confirm=None, env={"ZTCTL_TRUST": PWN.fingerprint}
    )
    bare = PWN.fingerprint.removeprefix("sha256:")
    trust.require(
        tmp_path, [PWN], interactive=False, confirm=None, env={"ZTCTL_TRUST": f"x,{bare}"}
    )


def test_approval_is_asked_once_pinned_0600_and_audited(tmp_path: Path) -> None:
    asked: list[str] = []

    def yes(shown: str) -> bool:
        asked.append(shown)
        return True

    trust.require(tmp_path, [PWN], interactive=True, confirm=yes, env={})
    assert len(asked) == 1 and "pwn.sh --x 'a b'" in asked[0] and "new" in asked[0]
    store = tmp_path / trust.TRUST_FILE
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert json.loads(store.read_text())["commands"]["lab/exec plugin"]["fingerprint"] == (
        PWN.fingerprint
    )
    events = list(audit.read_events(tmp_path, "trust.approve"))
    assert events[0]["fingerprint"] == PWN.fingerprint and events[0]["cluster"] == "lab"
    assert "v" not in json.dumps(events[0]["envNames"])  # names only, never values
    trust.require(tmp_path, [PWN], interactive=False, confirm=None, env={})
    assert len(asked) == 1


def test_a_changed_command_asks_again_and_says_it_changed(tmp_path: Path) -> None:
    trust.require(tmp_path, [PWN], interactive=True, confirm=lambda _s: True, env={})
    changed = trust.CatalogCommand("lab", trust.EXEC_PLUGIN, ("pwn.sh", "--evil"))
    with pytest.raises(trust.UntrustedCommand) as info:
        trust.require(tmp_path, [changed], interactive=False, confirm=None, env={})
    assert any("CHANGED" in line for line in info.value.details)
    asked: list[str] = []
    trust.require(
        tmp_path,
        [changed],
        interactive=True,
        confirm=lambda s: bool(asked.append(s)) or True,
        env={},
    )
    assert "CHANGED since you approved it" in asked[0]


def test_no_is_exit_4_and_nothing_is_pinned(tmp_path: Path) -> None:
    with pytest.raises(trust.UntrustedCommand) as info:
        trust.require(tmp_path, [PWN], interactive=True, confirm=lambda _s: False, env={})
    assert info.value.exit_code == 4
    assert not trust.is_trusted(tmp_path, PWN, {})


def test_a_tampered_store_is_no_approval(tmp_path: Path) -> None:
    (tmp_path / trust.TRUST_FILE).write_text("{not json")
    assert not trust.is_trusted(tmp_path, PWN, {})
    os.unlink(tmp_path / trust.TRUST_FILE)
    os.mkfifo(tmp_path / trust.TRUST_FILE)
    assert not trust.is_trusted(tmp_path, PWN, {})


def test_only_catalog_exec_plugins_of_unmerged_clusters_are_withheld() -> None:
    assert not trust.may_run_catalog_plugin(cluster(), "catalog")
    assert trust.may_run_catalog_plugin(cluster(), "kubeconfig")
    assert trust.may_run_catalog_plugin(None, "catalog")


# -- the hooks ------------------------------------------------------------------------


def plugin(tmp_path: Path) -> tuple[Path, Path]:
    """An exec plugin that leaves a marker file when it runs."""
    marker = tmp_path / "plugin-ran"
    script = tmp_path / "plugin.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"touch {marker}\n"
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        '"status":{"token":"t"}}\'\n'
    )
    script.chmod(0o755)
    return script, marker


def test_doctor_never_runs_the_plugin_of_a_cluster_not_in_kubeconfig(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.core.doctor_lab import lab_cluster_entry, lab_context, result, write_catalog
    from ztctl.core.doctor import run_doctor

    script, marker = plugin(tmp_path)
    catalog = write_catalog(
        lab, tmp_path, [lab_cluster_entry(lab, "c", credentials={"exec": {"command": str(script)}})]
    )
    lab.reset()
    report = run_doctor(lab_context(lab, ("c",), catalog=catalog, kubeconfig=False))
    assert not marker.exists()
    auth = result(report, "cluster.auth", "c")
    assert auth.status == "skip" and "not in kubeconfig" in auth.summary
    assert "ztctl use-cluster c" in auth.fix
    assert result(report, "cluster.api", "c").status == "pass"  # the path is still checked


def _ztctl(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "ztctl", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _exec_catalog(tmp_path: Path, script: Path) -> Path:
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "apiVersion: ztctl/v1\nkind: ClusterCatalog\nteam: acme\nclusters:\n"
        "  - name: c\n    server: https://127.0.0.1:1\n    addresses: [127.0.0.1]\n"
        "    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
        f"    credentials: {{exec: {{command: {script}, args: [get-token]}}}}\n"
    )
    return catalog


def test_use_cluster_refuses_an_unapproved_plugin_under_no_input(tmp_path: Path) -> None:
    script, marker = plugin(tmp_path)
    catalog = _exec_catalog(tmp_path, script)
    run = _ztctl(tmp_path, "--catalog", str(catalog), "use-cluster", "c", "--json")
    assert run.returncode == 4, run.stderr
    error = json.loads(run.stdout)["error"]
    assert "ZTCTL_TRUST" in error["fix"]
    assert any(str(script) in line for line in error["details"])
    assert not (tmp_path / "kubeconfig").exists() and not marker.exists()


def test_use_cluster_writes_an_approved_plugin(tmp_path: Path) -> None:
    script, _marker = plugin(tmp_path)
    catalog = _exec_catalog(tmp_path, script)
    fingerprint = trust.CatalogCommand(
        "c", trust.EXEC_PLUGIN, (str(script), "get-token")
    ).fingerprint
    run = _ztctl(
        tmp_path,
        "--catalog",
        str(catalog),
        "use-cluster",
        "c",
        "--no-probe",
        ZTCTL_TRUST=fingerprint,
    )
    assert run.returncode == 0, run.stderr
    assert str(script) in (tmp_path / "kubeconfig").read_text()


def test_probe_never_runs_the_plugin_of_a_cluster_not_in_kubeconfig(tmp_path: Path) -> None:
    script, marker = plugin(tmp_path)
    catalog = _exec_catalog(tmp_path, script)
    run = _ztctl(tmp_path, "--catalog", str(catalog), "probe", "c", "--timeout", "1")
    assert run.returncode == 4, run.stderr
    assert "not in kubeconfig" in run.stderr and "ztctl use-cluster c" in run.stderr
    assert not marker.exists()


def test_doctor_does_not_hang_on_a_fifo_as_the_client_key(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import threading

    from tests.core.doctor_lab import lab_cluster_entry, lab_context, result, write_catalog
    from ztctl.core.doctor import run_doctor

    key = tmp_path / "client.key"
    creds = {"clientCertificate": str(lab.paths.client_cert), "clientKey": str(key)}
    catalog = write_catalog(lab, tmp_path, [lab_cluster_entry(lab, "c", credentials=creds)])
    os.mkfifo(key)  # after validation: the file changed under ztctl
    lab.reset()
    reports: list[object] = []
    thread = threading.Thread(
        target=lambda: reports.append(
            run_doctor(lab_context(lab, ("c",), catalog=catalog, kubeconfig=False))
        ),
        daemon=True,
    )
    thread.start()
    thread.join(30)
    if thread.is_alive():
        os.close(os.open(key, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("doctor blocked on a FIFO")
    check = result(reports[0], "cluster.credentials", "c")  # type: ignore[arg-type]
    assert check.status == "fail" and "FIFO" in check.summary


@pytest.mark.parametrize(
    ("word", "shown"),
    [
        ("get-token", "get-token"),
        ("a b", "'a b'"),
        ("get-token\u2028/tmp/pwn.sh", "$'get-token\\u2028/tmp/pwn.sh'"),
        ("kube\u200blogin", "$'kube\\u200blogin'"),
        ("it's\n\tx\\y", "$'it\\'s\\n\\tx\\\\y'"),
        ("\x1b]0;t\x07", "$'\\x1b]0;t\\x07'"),
        ("\u00a0nbsp\x85", "$'\\u00a0nbsp\\u0085'"),
        ("tag\U000e0041", "$'tag\\U000e0041'"),
    ],
)
def test_the_prompt_shows_every_invisible_character_escaped_as_bash_reads_it(
    word: str, shown: str
) -> None:
    command = trust.CatalogCommand("lab", trust.EXEC_PLUGIN, ("kubelogin", word), (("E", word),))
    line = command.display()
    assert line == f"E={shown} kubelogin {shown}"
    assert line.isprintable()  # one visible line: nothing hidden, nothing on a new line
    # ... and it is exactly the word a shell would run
    echoed = subprocess.run(
        ["bash", "-c", f"printf '%s' {shown}"], capture_output=True, check=True
    ).stdout
    assert echoed == word.encode()
