"""merge_cluster: the entries, where they go, duplicates, and what kubectl makes of it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core import audit
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.kubeconfig.store import lock_path
from ztctl.core.model import AccessToken, ClientCertificate, Cluster, ExecCredential
from ztctl.core.use_cluster import merge_cluster
from ztctl.errors import InvalidInput, OperationFailed

PROD = Cluster(
    name="prod-eu",
    server="https://k8s.prod-eu.acme.net:6443",
    addresses=("203.0.113.10", "203.0.113.11"),
    credentials=ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
    certificate_authority=Path("/ca/prod-eu.pem"),
    namespace="default",
)

FOREIGN = """\
# hand-written, please keep this comment
apiVersion: v1
clusters:
- cluster:
    server: https://10.9.9.9:443
  name: mine
contexts:
- context:
    cluster: mine
    namespace: kube-system
    user: me
  name: mine
current-context: mine
kind: Config
preferences: {}
users:
- name: me
  user:
    token: abc
unknownTopLevel:
  keep: [1, 2, 3]
"""


def run_kubectl(kubectl: str, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [kubectl, *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def merge(cluster: Cluster = PROD, **kwargs: Any) -> Any:
    kwargs.setdefault("team", "acme")
    return merge_cluster(cluster, **kwargs)


def test_fresh_kubeconfig_is_complete_private_and_read_by_kubectl(
    tmp_path: Path, kubectl: str
) -> None:
    cfg = tmp_path / "new" / ".kube" / "config"
    result = merge(kubeconfig=str(cfg))
    assert result.switched and result.current_context == "prod-eu"
    assert [f.created for f in result.files] == [True]
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o600
    assert not list(cfg.parent.glob("*.lock"))
    assert not list(cfg.parent.glob("*.ztctl.bak"))  # nothing to back up

    view = json.loads(
        run_kubectl(kubectl, "--kubeconfig", str(cfg), "config", "view", "--raw", "-o", "json")
    )
    assert view["clusters"] == [
        {
            "name": "prod-eu",
            "cluster": {
                "server": "https://k8s.prod-eu.acme.net:6443",
                "certificate-authority": "/ca/prod-eu.pem",
                "extensions": [
                    {"name": "ztctl", "extension": {"cluster": "prod-eu", "team": "acme"}}
                ],
            },
        }
    ]
    assert view["users"][0]["user"]["client-certificate"] == "/keys/prod.crt"
    assert view["contexts"][0]["context"]["namespace"] == "default"
    names = run_kubectl(kubectl, "--kubeconfig", str(cfg), "config", "get-contexts", "-o", "name")
    assert names.split() == ["prod-eu"]
    current = run_kubectl(kubectl, "--kubeconfig", str(cfg), "config", "current-context")
    assert current.strip() == "prod-eu"


def test_python_client_loads_what_was_written(tmp_path: Path) -> None:
    from kubernetes import config

    for name in ("prod.crt", "prod.key"):
        (tmp_path / name).write_text("PEM\n")
    cfg = tmp_path / "config"
    cluster = Cluster(
        **{
            **PROD.__dict__,
            "credentials": ClientCertificate(tmp_path / "prod.crt", tmp_path / "prod.key"),
            "certificate_authority": None,
            "certificate_authority_data": "LS0tLQ==",
        }
    )
    merge(cluster, kubeconfig=str(cfg))
    _contexts, active = config.list_kube_config_contexts(config_file=str(cfg))
    assert active["name"] == "prod-eu"
    assert active["context"]["namespace"] == "default"
    api = config.new_client_from_config(config_file=str(cfg))
    assert api.configuration.host == "https://k8s.prod-eu.acme.net:6443"
    assert api.configuration.cert_file == str(tmp_path / "prod.crt")
    assert Path(api.configuration.ssl_ca_cert).read_bytes() == b"----"


def test_second_run_writes_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    merge(kubeconfig=str(cfg))
    before = cfg.stat()
    backup = (tmp_path / "config.ztctl.bak").read_bytes()
    again = merge(kubeconfig=str(cfg))
    assert again.files == () and again.changes == () and not again.switched
    after = cfg.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (tmp_path / "config.ztctl.bak").read_bytes() == backup


def test_foreign_entries_comments_and_unknown_fields_keep_their_bytes(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    cfg.chmod(0o640)
    result = merge(kubeconfig=str(cfg))
    text = cfg.read_text()
    assert result.files[0].method == "splice"
    for block in FOREIGN.split("\n"):
        if block != "current-context: mine":
            assert block in text.split("\n")
    assert "unknownTopLevel:\n  keep: [1, 2, 3]\n" in text
    assert stat.S_IMODE(cfg.stat().st_mode) == 0o640
    backup = tmp_path / "config.ztctl.bak"
    assert backup.read_text() == FOREIGN
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert result.files[0].backup == str(backup)


def test_symlinked_kubeconfig_writes_the_target(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "kubeconfig"
    real.parent.mkdir()
    real.write_text(FOREIGN)
    link = tmp_path / "config"
    link.symlink_to(real)
    result = merge(kubeconfig=str(link))
    assert link.is_symlink()
    assert "prod-eu" in real.read_text()
    assert result.files[0].target == str(real)
    assert (real.parent / "kubeconfig.ztctl.bak").read_text() == FOREIGN


def test_extension_survives_kubectl_rewrite_and_merge_stays_a_no_op(
    tmp_path: Path, kubectl: str
) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    merge(kubeconfig=str(cfg))
    run_kubectl(
        kubectl,
        "--kubeconfig",
        str(cfg),
        "config",
        "set-context",
        "prod-eu",
        "--namespace",
        "team-a",
    )
    entry = load_kubeconfig(str(cfg), {}).contexts["prod-eu"]
    assert entry.owned and entry.catalog_name == "prod-eu"
    assert load_kubeconfig(str(cfg), {}).clusters["prod-eu"].owned
    rewritten = cfg.read_bytes()
    again = merge(kubeconfig=str(cfg))
    assert again.files == ()  # the kubectl-written form is ztctl's own form
    assert again.namespace == "team-a"  # the namespace the user chose is kept
    assert cfg.read_bytes() == rewritten
    merge(kubeconfig=str(cfg), namespace="other")
    assert load_kubeconfig(str(cfg), {}).contexts["prod-eu"].body["namespace"] == "other"


def test_credentials_and_ca_forms(tmp_path: Path, kubectl: str) -> None:
    cfg = tmp_path / "config"
    dev = Cluster(
        name="dev",
        server="https://k8s.dev.acme.net",
        addresses=(),
        credentials=ExecCredential("kubelogin", ("get-token", "--x=1"), (("A", "b"), ("C", ""))),
        certificate_authority_data="LS0tLQ==",
    )
    staging = Cluster(
        name="staging",
        server="https://k8s.staging.acme.net:6443",
        addresses=(),
        credentials=AccessToken("https://k8s.staging.acme.net"),
        certificate_authority=Path("/ca/staging.pem"),
    )
    merge(dev, kubeconfig=str(cfg))
    merge(staging, kubeconfig=str(cfg))
    view = json.loads(
        run_kubectl(kubectl, "--kubeconfig", str(cfg), "config", "view", "--raw", "-o", "json")
    )
    users = {u["name"]: u["user"] for u in view["users"]}
    assert users["dev"]["exec"] == {
        "command": "kubelogin",
        "args": ["get-token", "--x=1"],
        "env": [{"name": "A", "value": "b"}, {"name": "C", "value": ""}],
        "apiVersion": "client.authentication.k8s.io/v1",
        "provideClusterInfo": False,
        "interactiveMode": "IfAvailable",
    }
    exec_ = users["staging"]["exec"]
    assert exec_["command"] == "ztctl"
    assert exec_["args"] == ["credential", "staging"]
    assert exec_["env"] is None
    assert exec_["interactiveMode"] == "IfAvailable"
    assert "installHint" in exec_
    clusters = {c["name"]: c["cluster"] for c in view["clusters"]}
    assert clusters["dev"]["certificate-authority-data"] == "LS0tLQ=="
    assert clusters["staging"]["certificate-authority"] == "/ca/staging.pem"
    contexts = {c["name"]: c["context"] for c in view["contexts"]}
    assert "namespace" not in contexts["dev"]


DUPLICATES = """\
apiVersion: v1
clusters:
- cluster: {server: "https://k8s.prod-eu.acme.net:6443"}
  name: gke_acme_europe-west1_prod
- cluster: {server: "https://203.0.113.11:6443"}
  name: arn:aws:eks:eu-west-1:1:cluster/prod
- cluster: {server: "https://127.0.0.1:51234", tls-server-name: k8s.prod-eu.acme.net}
  name: tunnel
- cluster: {server: "https://k8s.prod-eu.acme.net:443"}
  name: other-port
contexts:
- context: {cluster: gke_acme_europe-west1_prod, user: gke-user}
  name: gke
- context: {cluster: "arn:aws:eks:eu-west-1:1:cluster/prod", user: shared}
  name: eks
- context: {cluster: tunnel, user: shared}
  name: tunnel
- context: {cluster: other-port, user: shared}
  name: keep
current-context: gke
users:
- name: gke-user
  user: {token: a}
- name: shared
  user: {token: b}
"""


def test_duplicates_are_reported_but_not_removed_by_default(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(DUPLICATES)
    result = merge(kubeconfig=str(cfg))
    found = {(d.kind, d.name): d for d in result.duplicates}
    assert set(found) == {
        ("cluster", "gke_acme_europe-west1_prod"),
        ("cluster", "arn:aws:eks:eu-west-1:1:cluster/prod"),
        ("cluster", "tunnel"),
        ("context", "gke"),
        ("context", "eks"),
        ("context", "tunnel"),
        ("user", "gke-user"),  # "shared" is still used by the context "keep"
    }
    assert found[("cluster", "gke_acme_europe-west1_prod")].reason == (
        "same host k8s.prod-eu.acme.net:6443"
    )
    assert "203.0.113.11:6443" in found[("cluster", "arn:aws:eks:eu-west-1:1:cluster/prod")].reason
    assert "tls-server-name" in found[("cluster", "tunnel")].reason
    assert not any(d.removed for d in result.duplicates)
    kc = load_kubeconfig(str(cfg), {})
    assert "gke" in kc.contexts and "gke-user" in kc.users


def test_prune_duplicates_removes_them_and_what_only_they_use(tmp_path: Path, kubectl: str) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(DUPLICATES)
    result = merge(kubeconfig=str(cfg), prune_duplicates=True)
    assert all(d.removed for d in result.duplicates)
    names = run_kubectl(kubectl, "--kubeconfig", str(cfg), "config", "get-contexts", "-o", "name")
    assert names.split() == ["keep", "prod-eu"]
    kc = load_kubeconfig(str(cfg), {})
    assert sorted(kc.clusters) == ["other-port", "prod-eu"]
    assert sorted(kc.users) == ["prod-eu", "shared"]
    assert kc.current_context == "prod-eu"
    assert {c.action for c in result.changes if c.kind != "current-context"} == {"add", "remove"}


def test_same_named_foreign_entry_is_a_conflict(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    text = "clusters:\n- name: prod-eu\n  cluster: {server: https://elsewhere}\n"
    cfg.write_text(text)
    with pytest.raises(OperationFailed) as info:
        merge(kubeconfig=str(cfg))
    assert "cluster 'prod-eu'" in info.value.message
    assert "--prune-duplicates" in info.value.fix
    assert "kubectl config delete-cluster prod-eu" in info.value.fix
    assert cfg.read_text() == text
    result = merge(kubeconfig=str(cfg), prune_duplicates=True)
    assert load_kubeconfig(str(cfg), {}).clusters["prod-eu"].owned
    assert [(d.kind, d.removed) for d in result.duplicates] == [("cluster", True)]


def test_no_switch_keeps_the_current_context(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    result = merge(kubeconfig=str(cfg), switch=False)
    assert not result.switched and result.current_context == "mine"
    assert load_kubeconfig(str(cfg), {}).current_context == "mine"


def test_dry_run_writes_nothing_and_shows_a_diff(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    result = merge(kubeconfig=str(cfg), dry_run=True, state_dir=tmp_path / "state")
    assert cfg.read_text() == FOREIGN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]
    diff = result.files[0].diff
    assert diff.startswith(f"--- a{cfg}\n+++ b{cfg}\n")
    assert "+current-context: prod-eu\n" in diff and "-current-context: mine\n" in diff
    assert result.dry_run and result.to_dict()["files"][0]["diff"] == diff


def test_audit_event_names_files_and_entries(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    state = tmp_path / "state"
    merge(kubeconfig=str(cfg), state_dir=state)
    merge(kubeconfig=str(cfg), state_dir=state)  # no change, no event
    events = list(audit.read_events(state))
    assert len(events) == 1
    event = events[0]
    assert event["event"] == "kubeconfig.write" and event["cluster"] == "prod-eu"
    assert event["files"] == [str(cfg)]
    assert f"add context prod-eu ({cfg})" in event["entries"]
    assert event["ts"].endswith("Z") and event["user"]
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "audit.jsonl").stat().st_mode) == 0o600


def test_the_event_is_recorded_before_the_write_and_fails_closed(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text("kind: Config\n")
    state = tmp_path / "state"
    (state / "audit.jsonl").mkdir(parents=True)
    with pytest.raises(audit.AuditWriteFailed) as info:
        merge(kubeconfig=str(cfg), state_dir=state)
    assert info.value.exit_code == 1
    assert cfg.read_text() == "kind: Config\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config", "state"]


def test_a_write_that_fails_after_its_event_is_recorded_as_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ztctl.core import use_cluster

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationFailed("disk full while writing", "free space")

    monkeypatch.setattr(use_cluster, "write_file", refuse)
    state = tmp_path / "state"
    with pytest.raises(OperationFailed, match="disk full"):
        merge(kubeconfig=str(tmp_path / "config"), state_dir=state)
    events = [(e["event"], e.get("error")) for e in audit.read_events(state)]
    assert events == [
        ("kubeconfig.write", None),
        ("kubeconfig.write-failed", "disk full while writing"),
    ]


# --- several files in KUBECONFIG -------------------------------------------------------------


def test_multi_file_writes_go_where_kubectl_puts_them(tmp_path: Path, kubectl: str) -> None:
    first = tmp_path / "missing-first"
    work = tmp_path / "work"
    work.write_text("current-context: ''\n")
    owned = tmp_path / "owned"
    owned.write_text(FOREIGN)
    env = {"KUBECONFIG": os.pathsep.join(map(str, (first, work, owned)))}
    merge(kubeconfig=str(owned))  # ztctl's entries now live in `owned`
    (tmp_path / "owned").write_text(
        (tmp_path / "owned")
        .read_text()
        .replace("current-context: prod-eu", "current-context: mine")
    )
    changed = Cluster(**{**PROD.__dict__, "server": "https://k8s.prod-eu.acme.net:7443"})
    result = merge(changed, env=env)
    assert {(c.kind, c.action, c.file) for c in result.changes} == {
        ("cluster", "update", str(owned)),  # a changed entry goes back to its origin
        ("current-context", "set", str(work)),  # current-context: the first existing file
    }
    assert not first.exists()
    assert yaml.safe_load(work.read_text())["current-context"] == "prod-eu"
    current = run_kubectl(kubectl, "config", "current-context", env=env)
    assert current.strip() == "prod-eu"
    server = run_kubectl(
        kubectl,
        "config",
        "view",
        "-o",
        "jsonpath={.clusters[?(@.name=='prod-eu')].cluster.server}",
        env=env,
    )
    assert server == "https://k8s.prod-eu.acme.net:7443"


def test_new_entries_go_to_the_first_existing_file(tmp_path: Path, kubectl: str) -> None:
    a, b, c = (tmp_path / n for n in "abc")
    b.write_text("current-context: x-ctx\n")
    c.write_text("current-context: y-ctx\n")
    env = {"KUBECONFIG": os.pathsep.join(map(str, (a, b, c)))}
    result = merge(env=env)
    assert {ch.file for ch in result.changes} == {str(b)}
    assert not a.exists() and c.read_text() == "current-context: y-ctx\n"
    names = run_kubectl(kubectl, "config", "get-contexts", "-o", "name", env=env)
    assert names.split() == ["prod-eu"]


def test_when_no_file_exists_the_last_one_is_created(tmp_path: Path, kubectl: str) -> None:
    a, b = tmp_path / "a", tmp_path / "sub" / "b"
    env = {"KUBECONFIG": os.pathsep.join(map(str, (a, b)))}
    merge(env=env)
    assert not a.exists() and b.exists()
    # kubectl agrees: with neither file present, it writes the last one too
    a2, b2 = tmp_path / "a2", tmp_path / "sub" / "b2"
    env2 = {"KUBECONFIG": os.pathsep.join(map(str, (a2, b2)))}
    run_kubectl(kubectl, "config", "set-context", "x", env=env2)
    assert not a2.exists() and b2.exists()


# --- locks and refusals --------------------------------------------------------------------


def test_a_held_lock_is_waited_for_then_named(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    lock = lock_path(cfg)
    lock.write_text("")
    with pytest.raises(OperationFailed) as info:
        merge(kubeconfig=str(cfg), lock_timeout=0.3)
    assert str(lock) in info.value.message
    assert f"rm {lock}" in info.value.fix
    assert cfg.read_text() == FOREIGN
    assert lock.exists()  # someone else's lock is never removed


def test_lock_is_taken_on_every_file_in_sorted_order(tmp_path: Path) -> None:
    a, b = tmp_path / "b-second", tmp_path / "a-first"
    env = {"KUBECONFIG": os.pathsep.join(map(str, (a, b)))}
    lock_path(a).write_text("")  # b-second.lock is held: a-first.lock must be freed again
    with pytest.raises(OperationFailed):
        merge(env=env, lock_timeout=0.3)
    assert not lock_path(b).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"clusters: [\n",
        b"clusters:\n- {name: a}\n- {name: a}\n",
        b"current-context: 7\n",
        b"\x00\x01\x02binary",
    ],
)
def test_malformed_kubeconfig_changes_no_file(tmp_path: Path, content: bytes) -> None:
    good = tmp_path / "good"
    good.write_text(FOREIGN)
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    env = {"KUBECONFIG": os.pathsep.join(map(str, (good, bad)))}
    with pytest.raises(InvalidInput):
        merge(env=env)
    assert good.read_text() == FOREIGN and bad.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good"]


def test_writer_that_ignores_the_lock_is_detected(tmp_path: Path) -> None:
    from ztctl.core.kubeconfig.files import read_file
    from ztctl.core.kubeconfig.store import check_unchanged

    cfg = tmp_path / "config"
    cfg.write_text(FOREIGN)
    seen = read_file(cfg)
    cfg.write_text(FOREIGN + "# gcloud was here\n")
    with pytest.raises(OperationFailed, match="changed while ztctl was updating it"):
        check_unchanged(cfg, seen.signature)


def test_identical_unmarked_entries_are_adopted(tmp_path: Path) -> None:
    """Entries another tool wrote with exactly ztctl's content only gain the marker."""
    cfg = tmp_path / "config"
    cfg.write_text(
        "clusters:\n- name: prod-eu\n  cluster:\n"
        "    server: https://k8s.prod-eu.acme.net:6443\n"
        "    certificate-authority: /ca/prod-eu.pem\n"
        "users:\n- name: prod-eu\n  user:\n"
        "    client-certificate: /keys/prod.crt\n    client-key: /keys/prod.key\n"
        "contexts:\n- name: prod-eu\n  context: {cluster: prod-eu, user: prod-eu, namespace: ops}\n"
    )
    result = merge(kubeconfig=str(cfg))
    assert result.duplicates == ()
    assert {(c.kind, c.action) for c in result.changes} >= {
        ("cluster", "update"),
        ("user", "update"),
        ("context", "update"),
    }
    kc = load_kubeconfig(str(cfg), {})
    assert all(kc.entry(kind, "prod-eu").owned for kind in ("cluster", "user", "context"))  # type: ignore[union-attr]
    assert kc.contexts["prod-eu"].body["namespace"] == "ops"


def test_backup_keeps_a_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    original = "\ufeffapiVersion: v1\r\nkind: Config\r\ncurrent-context: x\r\n".encode()
    cfg.write_bytes(original)
    merge(kubeconfig=str(cfg))
    assert (tmp_path / "config.ztctl.bak").read_bytes() == original
    written = cfg.read_bytes()
    assert written.startswith(b"\xef\xbb\xbfapiVersion: v1\r\n")
    assert b"\n" not in written.replace(b"\r\n", b"")


def test_kubectl_and_python_client_disagree_after_a_multi_file_switch(
    tmp_path: Path, kubectl: str
) -> None:
    """kubectl takes the first non-empty current-context, the Python client the last key."""
    from kubernetes import config

    for name in ("prod.crt", "prod.key"):
        (tmp_path / name).write_text("PEM\n")
    a = tmp_path / "a"
    a.write_text("current-context: ''\n")
    b = tmp_path / "b"
    b.write_text(FOREIGN)
    env = {"KUBECONFIG": os.pathsep.join(map(str, (a, b)))}
    cluster = Cluster(
        **{
            **PROD.__dict__,
            "credentials": ClientCertificate(tmp_path / "prod.crt", tmp_path / "prod.key"),
        }
    )
    merge(cluster, env=env)
    assert yaml.safe_load(a.read_text())["current-context"] == "prod-eu"  # kubectl's choice
    assert run_kubectl(kubectl, "config", "current-context", env=env).strip() == "prod-eu"
    assert load_kubeconfig(None, env).current_context == "prod-eu"
    _contexts, active = config.list_kube_config_contexts(config_file=env["KUBECONFIG"])
    assert active["name"] == "mine"  # the last file's current-context
