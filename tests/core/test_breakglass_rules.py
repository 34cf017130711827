"""Break-glass decisions as tables, without a lab: which kubeconfig entry is routed, the TTL
rule, and which exit code each break-glass failure leaves with."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.breakglass.child import prepare_exec
from ztctl.core.breakglass.lifecycle import (
    StartRequest,
    error_for,
    find_entry,
    start,
)
from ztctl.core.breakglass.policy import resolve_ttl, validate_reason
from ztctl.core.errors import UsageError, ZtctlError
from ztctl.core.kubeconfig.model import load_kubeconfig
from ztctl.core.model import BreakGlass, ClientCertificate, Cluster, ProxyRoute

SERVER = "https://k8s.prod-eu.acme.test:6443"
OTHER = "https://other.test:6443"


def make_cluster(name: str = "prod-eu", break_glass: bool = True) -> Cluster:
    return Cluster(
        name=name,
        server=SERVER,
        addresses=("127.0.0.1",),
        credentials=ClientCertificate(Path("/x/c.crt"), Path("/x/c.key")),
        certificate_authority_data="Y2E=",
        break_glass=BreakGlass(ProxyRoute("socks5://127.0.0.1:1080"), 4 * 3600)
        if break_glass
        else None,
    )


# --- which kubeconfig entry break-glass routes -------------------------------------------
#
# The same ranking as probe and doctor: the context of ztctl's own entry for the cluster
# (current context first), then a context named like the cluster on its API server, then
# any other context on its API server that is not named after another catalog cluster
# (current first); without any such context, the cluster and user entries named like the
# cluster. A context that points elsewhere is never picked because of its name.


def ctx(name: str, cluster: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"cluster": cluster, "user": cluster}
    if owner:
        body["extensions"] = [{"name": "ztctl", "extension": {"cluster": owner}}]
    return {"name": name, "context": body}


def cl(name: str, server: str = SERVER, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"server": server}
    if owner:
        body["extensions"] = [{"name": "ztctl", "extension": {"cluster": owner}}]
    return {"name": name, "cluster": body}


def kubeconfig(
    tmp_path: Path, clusters: list[dict[str, Any]], contexts: list[dict[str, Any]], current: str
) -> Any:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [{"name": c["name"], "user": {"token": "t"}} for c in clusters],
        "contexts": contexts,
        "current-context": current,
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_kubeconfig(str(path), {})


ENTRY_CASES = [
    (
        "ztctl's own entry beats a context named like the cluster",
        [cl("zt", owner="prod-eu"), cl("prod-eu")],
        [ctx("prod-eu", "prod-eu"), ctx("zt-prod", "zt", owner="prod-eu")],
        "prod-eu",
        ("prod-eu-us",),
        ("zt-prod", "zt"),
    ),
    (
        "of two own entries, the current context",
        [cl("a", owner="prod-eu"), cl("b", owner="prod-eu")],
        [ctx("a", "a", owner="prod-eu"), ctx("b", "b", owner="prod-eu")],
        "b",
        (),
        ("b", "b"),
    ),
    (
        "a context named like the cluster that points elsewhere is not it",
        [cl("stale", OTHER), cl("arn:eks:prod")],
        [ctx("prod-eu", "stale"), ctx("work", "arn:eks:prod")],
        "prod-eu",
        (),
        ("work", "arn:eks:prod"),
    ),
    (
        "named like the cluster beats another context on the same server, even current",
        [cl("prod-eu"), cl("alias")],
        [ctx("prod-eu", "prod-eu"), ctx("work", "alias")],
        "work",
        (),
        ("prod-eu", "prod-eu"),
    ),
    (
        "a context named after another catalog cluster is skipped",
        [cl("prod-us"), cl("arn:eks:prod")],
        [ctx("prod-us", "prod-us"), ctx("work", "arn:eks:prod")],
        "prod-us",
        ("prod-eu", "prod-us"),
        ("work", "arn:eks:prod"),
    ),
    (
        "ztctl's entry for another catalog cluster on the same server is skipped",
        [cl("zt-us", owner="prod-us"), cl("mine")],
        [ctx("zt-us", "zt-us", owner="prod-us"), ctx("mine", "mine")],
        "zt-us",
        ("prod-eu", "prod-us"),
        ("mine", "mine"),
    ),
    (
        "of two other contexts on the same server, the current one",
        [cl("a"), cl("b")],
        [ctx("a", "a"), ctx("b", "b")],
        "b",
        (),
        ("b", "b"),
    ),
    (
        "no context at all: the cluster and user entries named like the cluster",
        [cl("prod-eu")],
        [],
        "",
        (),
        (None, "prod-eu"),
    ),
]


@pytest.mark.parametrize(
    ("clusters", "contexts", "current", "names", "expected"),
    [case[1:] for case in ENTRY_CASES],
    ids=[case[0] for case in ENTRY_CASES],
)
def test_find_entry_picks_the_context_probe_picks(
    tmp_path: Path,
    clusters: list[dict[str, Any]],
    contexts: list[dict[str, Any]],
    current: str,
    names: tuple[str, ...],
    expected: tuple[str | None, str],
) -> None:
    entry = find_entry(make_cluster(), kubeconfig(tmp_path, clusters, contexts, current), names)
    assert (entry.context, entry.cluster.name) == expected
    assert entry.user.name == expected[1]


# --- the TTL rule ------------------------------------------------------------------------

HOUR = 3600
TTL_CASES = [
    # --ttl, maxTtl, seconds granted (None: refused as a usage error)
    (None, 4 * HOUR, HOUR),  # default: one hour ...
    ("  ", 4 * HOUR, HOUR),
    (None, 30 * 60, 30 * 60),  # ... or maxTtl when that is shorter
    ("90s", HOUR, 90),
    ("1h30m", 2 * HOUR, 90 * 60),
    ("4h", 4 * HOUR, 4 * HOUR),  # exactly the limit
    ("4h1s", 4 * HOUR, None),  # one second over: refused, never shortened
    ("8h", 4 * HOUR, None),
    ("10", HOUR, None),  # no unit
    ("0s", HOUR, None),
    ("-5m", HOUR, None),
]


@pytest.mark.parametrize(("text", "max_ttl", "granted"), TTL_CASES)
def test_ttl_rule(text: str | None, max_ttl: int, granted: int | None) -> None:
    if granted is None:
        with pytest.raises(UsageError):
            resolve_ttl(text, max_ttl, "prod-eu")
    else:
        assert resolve_ttl(text, max_ttl, "prod-eu") == granted


REASON_CASES = [
    ("INC-4711 Zero Trust tunnel down", "INC-4711 Zero Trust tunnel down"),
    ("  WARP   outage\tin eu ", "WARP outage in eu"),
    ("", None),
    ("test test test", None),
    ("asdfasdf qwerty", None),
    ("emergency incident", None),
    ("tunnel\x07 down in prod-eu", None),
    ("x" * 501, None),
]


@pytest.mark.parametrize(("text", "kept"), REASON_CASES)
def test_reason_rule(text: str, kept: str | None) -> None:
    if kept is None:
        with pytest.raises(UsageError):
            validate_reason(text)
    else:
        assert validate_reason(text) == kept


# --- exit codes --------------------------------------------------------------------------
#
# The contract: 1 the operation failed, 2 usage, 3 invalid input, 4 authentication needed,
# 5 unreachable. A failure over the route keeps the exit code of what the probe found.


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def start_without_route(tmp_path: Path) -> None:
    start(StartRequest(make_cluster(break_glass=False), "INC-1 tunnel down", tmp_path))


def start_with_bad_reason(tmp_path: Path) -> None:
    start(StartRequest(make_cluster(), "test", tmp_path))


def start_without_entry(tmp_path: Path) -> None:
    empty = tmp_path / "empty-config"
    empty.write_text("apiVersion: v1\nkind: Config\n")
    request = StartRequest(
        make_cluster(), "INC-1 tunnel down", tmp_path / "state", kubeconfig=str(empty), env={}
    )
    start(request)


def exec_without_session(tmp_path: Path) -> None:
    prepare_exec(tmp_path, "prod-eu", ["kubectl"], env={})


def proxy_route_closed(tmp_path: Path) -> None:
    from ztctl.core.breakglass.lifecycle import _open_route, _planned_route
    from ztctl.core.breakglass.session import STATE_OPENING, Session

    cluster = Cluster(
        name="prod-eu",
        server=SERVER,
        addresses=("127.0.0.1",),
        credentials=ClientCertificate(Path("/x/c.crt"), Path("/x/c.key")),
        break_glass=BreakGlass(ProxyRoute(f"socks5://127.0.0.1:{closed_port()}")),
    )
    session = Session(
        "bg-1", "prod-eu", STATE_OPENING, "r", "u", 0.0, 1.0, 60, _planned_route(cluster)
    )
    request = StartRequest(cluster, "r", tmp_path, env={})
    _open_route(session, cluster, None, request, lambda _m: None)  # type: ignore[arg-type]


def over_route(code: int) -> Any:
    def fail(_tmp_path: Path) -> None:
        raise error_for(code, "the API server does not answer over the route", "fix")

    return fail


EXIT_CASES = [
    ("no break-glass route in the catalog", start_without_route, 1, "failed"),
    ("a placeholder reason", start_with_bad_reason, 2, "usage"),
    ("no kubeconfig entry for the cluster", start_without_entry, 1, "failed"),
    ("exec without an open session", exec_without_session, 1, "failed"),
    ("the break-glass proxy refuses connections", proxy_route_closed, 5, "unreachable"),
    ("over the route: bad certificate or kubeconfig", over_route(3), 3, "invalid-input"),
    ("over the route: credentials refused", over_route(4), 4, "auth-needed"),
    ("over the route: the API server does not answer", over_route(5), 5, "unreachable"),
    ("over the route: anything else", over_route(1), 1, "failed"),
    ("over the route: a code outside the contract", over_route(42), 1, "failed"),
]


@pytest.mark.parametrize(
    ("failure", "expected_code", "expected_kind"),
    [case[1:] for case in EXIT_CASES],
    ids=[case[0] for case in EXIT_CASES],
)
def test_each_break_glass_failure_leaves_with_its_exit_code(
    tmp_path: Path, failure: Any, expected_code: int, expected_kind: str
) -> None:
    with pytest.raises(ZtctlError) as caught:
        failure(tmp_path)
    error = caught.value
    assert (error.exit_code, error.kind) == (expected_code, expected_kind)
    assert error.to_dict()["code"] == expected_code
    assert error.message and error.fix


# --- reading sessions stays cheap ----------------------------------------------------------


def test_reading_sessions_imports_only_the_standard_library() -> None:
    """probe, status and use-cluster read sessions on every run: session.py must not pull in
    the rest of break-glass (or anything outside the standard library)."""
    import subprocess
    import sys

    code = (
        "import json, sys; before = set(sys.modules); import ztctl.core.breakglass.session; "
        "print(json.dumps(sorted(m for m in set(sys.modules) - before if m[0] != '_')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    ours = [m for m in loaded if m.split(".")[0] == "ztctl"]
    assert ours == ["ztctl", "ztctl.core", "ztctl.core.breakglass", "ztctl.core.breakglass.session"]
    stdlib = set(sys.stdlib_module_names)
    assert [m for m in loaded if m.split(".")[0] not in stdlib | {"ztctl"}] == []
