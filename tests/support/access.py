"""Helpers for the login/credential suites: an isolated keyring, clean Access caches, a
kubeconfig with ztctl's exec entry, and lab-minted tokens."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.keyring_backend import BACKEND, ENV_DIR

REPO = Path(__file__).resolve().parents[2]
EXEC_V1 = "client.authentication.k8s.io/v1"
EXEC_V1BETA1 = "client.authentication.k8s.io/v1beta1"


def ztctl_argv() -> list[str]:
    script = Path(sys.executable).with_name("ztctl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ztctl"]


@dataclass
class AccessEnv:
    """The lab plus an isolated keyring and private ztctl state, for one test."""

    lab: Any
    keyring_dir: Path
    state_dir: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        return {
            **self.lab.env,
            "PYTHON_KEYRING_BACKEND": BACKEND,
            ENV_DIR: str(self.keyring_dir),
            "ZTCTL_STATE_DIR": str(self.state_dir),
            "PYTHONPATH": pythonpath,
            **self.extra,
        }

    def items(self) -> dict[str, str]:
        try:
            data = json.loads((self.keyring_dir / "items.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return dict(data.get("ztctl", {}))

    def put(self, cluster: str, token: str) -> None:
        self.keyring_dir.mkdir(parents=True, exist_ok=True)
        path = self.keyring_dir / "items.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        data.setdefault("ztctl", {})[cluster] = token
        path.write_text(json.dumps(data), encoding="utf-8")

    def fault(self, text: str) -> None:
        self.keyring_dir.mkdir(parents=True, exist_ok=True)
        (self.keyring_dir / "fault").write_text(text, encoding="utf-8")

    def mint(self, cluster_app: str | None = None, **kwargs: Any) -> str:
        """A lab-signed app token for the lab's Access app (or ``cluster_app``)."""
        from ztctl.lab.jwt import issue_token

        return issue_token(self.lab.dir, cluster_app or self.lab.server, **kwargs)

    def cloudflared_cache(self) -> Path:
        return self.lab.dir / "cloudflared"

    def run(self, args: list[str], **kwargs: Any) -> Any:
        env = {**self.env, **kwargs.pop("env", {})}
        return self.lab.run([*ztctl_argv(), *args], env=env, **kwargs)


@pytest.fixture(name="access")
def access_fixture(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AccessEnv]:
    """Lab + isolated keyring, in this process (monkeypatched) and for subprocesses."""
    shutil.rmtree(lab.dir / "cloudflared", ignore_errors=True)
    acc = AccessEnv(lab, tmp_path / "keyring", tmp_path / "state")
    for key, value in acc.env.items():
        if key in ("PYTHON_KEYRING_BACKEND", ENV_DIR, "ZTCTL_STATE_DIR"):
            monkeypatch.setenv(key, value)
    if str(REPO) not in sys.path:
        monkeypatch.syspath_prepend(str(REPO))
    # keyring caches its backend per process: make it the isolated one (which refuses to
    # work without ZTCTL_TEST_KEYRING_DIR), never whatever the developer's machine has.
    import keyring

    from tests.support import keyring_backend

    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring_backend.IsolatedKeyring())
    try:
        yield acc
    finally:
        shutil.rmtree(lab.dir / "cloudflared", ignore_errors=True)


def set_access(lab: Any, **values: Any) -> None:
    """Change the lab's Access settings (no `lab set` key for them)."""
    from ztctl.lab import state

    with state.update(lab.dir) as st:
        for name, value in values.items():
            setattr(st.access, name, value)


def set_warp(lab: Any, **values: Any) -> None:
    from ztctl.lab import state

    with state.update(lab.dir) as st:
        for name, value in values.items():
            setattr(st.warp, name, value)


def recording_cloudflared(lab: Any, tmp_path: Path, *, fail_login: bool = False) -> Path:
    """A cloudflared wrapper that logs each invocation, then runs the lab's stand-in."""
    log = tmp_path / "cloudflared.log"
    script = tmp_path / "cloudflared"
    failing = 'case "$*" in *"access login"*) exit 1;; esac\n' if fail_login else ""
    script.write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\n{failing}exec "{lab.paths.bin / "cloudflared"}" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def invocations(tmp_path: Path) -> list[str]:
    try:
        return (tmp_path / "cloudflared.log").read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def exec_kubeconfig(lab: Any, path: Path, cluster: str = "lab-sso", *, api: str = EXEC_V1) -> Path:
    """A kubeconfig whose user runs `ztctl credential CLUSTER`, shaped like use-cluster's."""
    import yaml

    command = ztctl_argv()
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": lab.server,
                    "certificate-authority": str(lab.paths.ca_cert),
                },
            }
        ],
        "users": [
            {
                "name": cluster,
                "user": {
                    "exec": {
                        "apiVersion": api,
                        "command": command[0],
                        "args": [*command[1:], "credential", cluster],
                        "interactiveMode": "IfAvailable",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": cluster}}],
        "current-context": cluster,
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    path.chmod(0o600)
    return path
