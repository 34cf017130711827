"""Shared by the break-glass tests: a catalog cluster, kubeconfigs, session files."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import yaml

from ztctl.core.breakglass.session import (
    STATE_ACTIVE,
    ProxyState,
    RouteState,
    Session,
    SshState,
    session_file,
)
from ztctl.core.breakglass.store import write_session
from ztctl.core.model import BreakGlass, ClientCertificate, Cluster, ProxyRoute

SERVER = "https://k8s.prod-eu.acme.test:6443"


def make_cluster(name: str = "prod-eu", route: object = None, max_ttl: int = 4 * 3600) -> Cluster:
    return Cluster(
        name=name,
        server=SERVER,
        addresses=("127.0.0.1",),
        credentials=ClientCertificate(Path("/x/c.crt"), Path("/x/c.key")),
        certificate_authority_data="Y2E=",
        break_glass=BreakGlass(
            route=route or ProxyRoute("socks5://127.0.0.1:1080"),  # type: ignore[arg-type]
            max_ttl_s=max_ttl,
        ),
    )


def write_kubeconfig(path: Path, document: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def user_kubeconfig(tmp_path: Path) -> Path:
    """``use-cluster``-style entries, a relative CA, another tool's alias, and an unrelated one."""
    (tmp_path / "kube" / "ca.crt").parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "kube" / "ca.crt").write_text("not really a CA\n")
    return write_kubeconfig(
        tmp_path / "kube" / "config",
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "prod-eu",
                    "cluster": {
                        "server": SERVER,
                        "certificate-authority": "ca.crt",
                        "tls-server-name": "k8s.prod-eu.acme.test",
                    },
                },
                {"name": "alias", "cluster": {"server": "https://127.0.0.1:6443"}},
                {"name": "other", "cluster": {"server": "https://other.test:6443"}},
            ],
            "users": [
                {"name": "prod-eu", "user": {"client-certificate": "c.crt", "client-key": "c.key"}},
                {"name": "other", "user": {"token": "t"}},
            ],
            "contexts": [
                {"name": "prod-eu", "context": {"cluster": "prod-eu", "user": "prod-eu"}},
                {"name": "other", "context": {"cluster": "other", "user": "other"}},
            ],
            "current-context": "other",
        },
    )


def make_session(
    state: Path,
    cluster: str = "prod-eu",
    *,
    deadline_in: float = 3600,
    route: RouteState | None = None,
    state_name: str = STATE_ACTIVE,
) -> Session:
    now = time.time()
    session = Session(
        id=f"bg-test{int(now * 1000) % 100000}",
        cluster=cluster,
        state=state_name,
        reason="INC-1 Zero Trust tunnel down",
        user="alice",
        started=now,
        deadline=now + deadline_in,
        ttl_s=int(deadline_in),
        route=route or ProxyState("proxy socks5://127.0.0.1:1080"),
        path=session_file(state, cluster),
    )
    write_session(session)
    return session


def ssh_route(proc: subprocess.Popen[bytes], control: str) -> RouteState:
    return SshState(
        "ssh bastion.test:22",
        proxy_url="socks5://127.0.0.1:4000",
        pid=proc.pid,
        marker=f"ControlPath={control}",
        control_path=control,
        host="bastion.test",
    )


def wait_for(condition: object, timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return bool(condition())  # type: ignore[operator]
