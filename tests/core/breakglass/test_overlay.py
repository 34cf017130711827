"""The overlay kubeconfig and the child's KUBECONFIG (kubectl is the oracle)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.core.breakglass.helpers import SERVER, make_cluster, user_kubeconfig
from ztctl.core.breakglass.opening import find_entry
from ztctl.core.breakglass.overlay import child_kubeconfig, overlay_document, write_overlay
from ztctl.core.kubeconfig.model import load_kubeconfig


def test_overlay_copies_whole_entries_with_proxy_url_and_absolute_paths(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    doc = overlay_document(entry, "socks5://127.0.0.1:9", "bg-1", "prod-eu")
    assert doc["users"] == [] and doc["contexts"] == []
    assert "current-context" not in doc
    clusters = {c["name"]: c["cluster"] for c in doc["clusters"]}
    assert set(clusters) == {"prod-eu", "alias"}
    prod = clusters["prod-eu"]
    assert prod["server"] == SERVER
    assert prod["tls-server-name"] == "k8s.prod-eu.acme.test"
    assert prod["certificate-authority"] == str(tmp_path / "kube" / "ca.crt")
    assert prod["proxy-url"] == "socks5://127.0.0.1:9"
    assert prod["extensions"] == [
        {"name": "ztctl-break-glass", "extension": {"session": "bg-1", "cluster": "prod-eu"}}
    ]
    # The user's own entry is untouched in memory too.
    assert "proxy-url" not in entry.cluster.body


def test_overlay_without_proxy_keeps_the_entry_as_it_is(tmp_path: Path) -> None:
    path = user_kubeconfig(tmp_path)
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    doc = overlay_document(entry, None, "bg-1", "prod-eu")
    assert all("proxy-url" not in c["cluster"] for c in doc["clusters"])


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_sees_the_overlay_entry_first_and_the_users_context(tmp_path: Path) -> None:
    """The oracle: kubectl merges overlay + the user's file exactly as intended."""
    path = user_kubeconfig(tmp_path)
    before = path.read_bytes()
    entry = find_entry(make_cluster(), load_kubeconfig(str(path), {}))
    overlay = tmp_path / "state" / "overlay"
    write_overlay(overlay, overlay_document(entry, "socks5://127.0.0.1:9", "bg-1", "prod-eu"))
    assert stat.S_IMODE(overlay.stat().st_mode) == 0o600
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "KUBECONFIG": f"{overlay}{os.pathsep}{path}",
    }

    def view(*args: str) -> dict[str, object]:
        out = subprocess.run(
            ["kubectl", "config", "view", "--raw", "-o", "json", *args],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return json.loads(out.stdout)  # type: ignore[no-any-return]

    merged = view()
    assert merged["current-context"] == "other"  # still the user's
    minified = view("--minify", "--context", "prod-eu")
    cluster = minified["clusters"][0]["cluster"]  # type: ignore[index]
    assert cluster["proxy-url"] == "socks5://127.0.0.1:9"
    assert cluster["tls-server-name"] == "k8s.prod-eu.acme.test"
    assert cluster["certificate-authority"] == str(tmp_path / "kube" / "ca.crt")
    user = minified["users"][0]["user"]  # type: ignore[index]
    assert user["client-certificate"] == "c.crt"  # the user's own entry (view does not resolve)
    other = view("--minify", "--context", "other")["clusters"][0]["cluster"]  # type: ignore[index]
    assert "proxy-url" not in other
    assert path.read_bytes() == before


def test_child_kubeconfig_puts_the_overlay_before_the_users_list(tmp_path: Path) -> None:
    state = tmp_path / "state"
    overlay = str(state / "break-glass" / "prod-eu" / "kubeconfig")
    a, b = tmp_path / "a", tmp_path / "b"
    env = {"KUBECONFIG": f"{a}{os.pathsep}{b}{os.pathsep}{a}", "HOME": str(tmp_path)}
    assert child_kubeconfig(overlay, state, None, env).split(os.pathsep) == [
        overlay,
        str(a),
        str(b),
    ]
    # --kubeconfig wins over KUBECONFIG, as in kubectl.
    assert child_kubeconfig(overlay, state, str(b), env).split(os.pathsep) == [
        overlay,
        str(b),
    ]
    # Nothing set: ~/.kube/config.
    home = {"HOME": str(tmp_path)}
    assert child_kubeconfig(overlay, state, None, home).split(os.pathsep) == [
        overlay,
        str(tmp_path / ".kube" / "config"),
    ]


def test_child_kubeconfig_drops_overlays_when_nested(tmp_path: Path) -> None:
    state = tmp_path / "state"
    overlay = str(state / "break-glass" / "prod-eu" / "kubeconfig")
    older = str(state / "break-glass" / "other" / "kubeconfig")
    env = {"KUBECONFIG": os.pathsep.join([older, overlay, str(tmp_path / "config")])}
    assert child_kubeconfig(overlay, state, None, env).split(os.pathsep) == [
        overlay,
        str(tmp_path / "config"),
    ]
