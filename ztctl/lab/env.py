"""What a running lab looks like from outside: its files, ports and environment.

:class:`LabInfo` is read from ``DIR/lab.json``; the writers here produce the files that
point ztctl and kubectl at the lab: ``DIR/config.toml``, ``DIR/catalog.yaml`` and
``DIR/kubeconfig`` (all regenerated on every ``lab up``, since the ports change).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.adapters.fs import atomic_write
from ztctl.lab import BASTION_SOURCE, CLUSTER_ADDRESS, CLUSTER_HOSTNAME, LAB_FILE, LOG_FILE
from ztctl.lab.state import STATE_FILE

TEAM = "lab"
CLUSTER = "lab"
SSO_CLUSTER = "lab-sso"
MAX_TTL = "1h"
CF_TOKEN_ENV = "ZTCTL_CF_API_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True)
class LabPaths:
    """The files of a lab directory (absolute paths)."""

    root: Path

    @classmethod
    def of(cls, lab_dir: Path) -> LabPaths:
        return cls(lab_dir.expanduser().resolve())

    @property
    def lab_file(self) -> Path:
        return self.root / LAB_FILE

    @property
    def log(self) -> Path:
        return self.root / LOG_FILE

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.yaml"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def state_dir(self) -> Path:
        """ztctl's own state directory while pointed at the lab (ZTCTL_STATE_DIR)."""
        return self.root / "state"

    @property
    def kube_cache(self) -> Path:
        """kubectl's discovery cache for the lab (KUBECACHEDIR), kept out of ~/.kube."""
        return self.root / "kube-cache"

    @property
    def cf_token(self) -> Path:
        """The lab's Cloudflare API token (0600): what its API stand-in accepts."""
        return self.root / "cf-token"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def ca_cert(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def client_cert(self) -> Path:
        return self.pki / "client.crt"

    @property
    def client_key(self) -> Path:
        return self.pki / "client.key"


@dataclass(frozen=True)
class LabInfo:
    """A running lab, as ``DIR/lab.json`` describes it."""

    paths: LabPaths
    pid: int
    started_at: str
    api_port: int
    bastion_port: int
    edge_port: int | None
    cfapi_port: int | None = None

    @property
    def dir(self) -> Path:
        return self.paths.root

    @property
    def server(self) -> str:
        return f"https://{CLUSTER_HOSTNAME}:{self.api_port}"

    @property
    def proxy_url(self) -> str:
        return f"socks5://{CLUSTER_ADDRESS}:{self.bastion_port}"

    @property
    def trace_url(self) -> str | None:
        if self.edge_port is None:
            return None
        return f"http://{CLUSTER_ADDRESS}:{self.edge_port}/cdn-cgi/trace"

    @property
    def edge_url(self) -> str | None:
        return None if self.edge_port is None else f"http://{CLUSTER_ADDRESS}:{self.edge_port}"

    @property
    def cfapi_url(self) -> str | None:
        if self.cfapi_port is None:
            return None
        return f"http://{CLUSTER_ADDRESS}:{self.cfapi_port}/client/v4"

    def env(self, base: dict[str, str] | None = None, *, with_token: bool = True) -> dict[str, str]:
        """The variables the ``export`` lines set (PATH prefixed onto ``base``'s). The lab's
        Cloudflare API token is read from its file (``with_token``); the export lines and
        JSON output never carry it, only a ``$(cat FILE)`` that reads it."""
        path = (base if base is not None else dict(os.environ)).get("PATH", os.defpath)
        out = {
            "ZTCTL_LAB_DIR": str(self.dir),
            "ZTCTL_CONFIG": str(self.paths.config),
            "ZTCTL_STATE_DIR": str(self.paths.state_dir),
            "KUBECONFIG": str(self.paths.kubeconfig),
            "KUBECACHEDIR": str(self.paths.kube_cache),
            "PATH": f"{self.paths.bin}{os.pathsep}{path}",
        }
        if self.cfapi_port is not None and with_token:
            with contextlib.suppress(OSError):
                out[CF_TOKEN_ENV] = self.paths.cf_token.read_text(encoding="utf-8").strip()
        return out

    def export_lines(self) -> list[str]:
        lines = []
        for name, value in self.env({"PATH": "$PATH"}, with_token=False).items():
            if name == "PATH":
                lines.append(f'export PATH={shlex.quote(str(self.paths.bin))}:"$PATH"')
            else:
                lines.append(f"export {name}={shlex.quote(value)}")
        if self.cfapi_port is not None:
            token_file = shlex.quote(str(self.paths.cf_token))
            lines.append(f'export {CF_TOKEN_ENV}="$(cat {token_file})"')
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "dir": str(self.dir),
            "pid": self.pid,
            "startedAt": self.started_at,
            "server": self.server,
            "apiPort": self.api_port,
            "bastion": self.proxy_url,
            "bastionSource": BASTION_SOURCE,
            "edge": self.edge_url,
            "cloudflareApi": self.cfapi_url,
            "config": str(self.paths.config),
            "catalog": str(self.paths.catalog),
            "kubeconfig": str(self.paths.kubeconfig),
            "log": str(self.paths.log),
        }


def read_lab_file(paths: LabPaths) -> LabInfo | None:
    """The lab described by ``DIR/lab.json`` (which may be stale), or ``None``."""
    try:
        data = json.loads(paths.lab_file.read_text(encoding="utf-8"))
        edge = data.get("edge")
        cfapi = data.get("cloudflareApi")
        return LabInfo(
            paths=paths,
            pid=int(data["pid"]),
            started_at=str(data.get("startedAt", "")),
            api_port=int(data["api"]["port"]),
            bastion_port=int(data["bastion"]["port"]),
            edge_port=int(edge["port"]) if edge else None,
            cfapi_port=int(cfapi["port"]) if cfapi else None,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable or half-written by something else: treat as absent


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(info: LabInfo) -> None:
    p = info.paths
    lines = [
        "# Written by `ztctl lab up`: points ztctl at the lab. Regenerated on every up.",
        f"team = {_toml_string(TEAM)}",
        f"catalog = {_toml_string(str(p.catalog))}",
        "",
        "[warp]",
        f"cli = {_toml_string(str(p.bin / 'warp-cli'))}",
        "# The route to the lab cluster (127.0.0.1) leaves through the loopback interface.",
        'interface = "lo"',
    ]
    if info.trace_url:
        lines.append(f"trace_url = {_toml_string(info.trace_url)}")
    lines += [
        "",
        "[access]",
        f"cloudflared = {_toml_string(str(p.bin / 'cloudflared'))}",
        "",
        "[doctor]",
        "timeout = 3.0",
        "",
    ]
    if info.cfapi_url:
        from ztctl.lab.state import WarpState

        lines += [
            "# The lab's stand-in of the Cloudflare API; its token is in "
            f"{p.cf_token.name} ({CF_TOKEN_ENV}).",
            "[cloudflare]",
            f"account_id = {_toml_string(WarpState().account_id)}",
            f"api_url = {_toml_string(info.cfapi_url)}",
            "",
        ]
    atomic_write(p.config, "\n".join(lines).encode("utf-8"), mode=0o600)


def catalog_document(info: LabInfo) -> dict[str, Any]:
    p = info.paths
    ca = os.path.relpath(p.ca_cert, p.catalog.parent)
    break_glass = {"maxTtl": MAX_TTL, "proxy": info.proxy_url}
    return {
        "apiVersion": "ztctl/v1",
        "kind": "ClusterCatalog",
        "team": TEAM,
        "clusters": [
            {
                "name": CLUSTER,
                "server": info.server,
                "addresses": [CLUSTER_ADDRESS],
                "certificateAuthority": ca,
                "namespace": "default",
                "credentials": {
                    "clientCertificate": str(p.client_cert),
                    "clientKey": str(p.client_key),
                },
                "breakGlass": dict(break_glass),
            },
            {
                "name": SSO_CLUSTER,
                "server": info.server,
                "addresses": [CLUSTER_ADDRESS],
                "certificateAuthority": ca,
                "namespace": "default",
                "credentials": {"accessToken": {"app": info.server}},
                "breakGlass": dict(break_glass),
            },
        ],
    }


def write_catalog(info: LabInfo) -> None:
    import yaml

    text = "# Written by `ztctl lab up`: the lab's cluster catalog. Regenerated on every up.\n"
    text += yaml.safe_dump(catalog_document(info), sort_keys=False)
    atomic_write(info.paths.catalog, text.encode("utf-8"), mode=0o644)


def kubeconfig_document(info: LabInfo, *, proxy_url: str | None = None) -> dict[str, Any]:
    p = info.paths
    cluster: dict[str, Any] = {"server": info.server, "certificate-authority": str(p.ca_cert)}
    if proxy_url:
        cluster["proxy-url"] = proxy_url
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER, "cluster": cluster}],
        "users": [
            {
                "name": CLUSTER,
                "user": {"client-certificate": str(p.client_cert), "client-key": str(p.client_key)},
            }
        ],
        "contexts": [
            {
                "name": CLUSTER,
                "context": {"cluster": CLUSTER, "user": CLUSTER, "namespace": "default"},
            }
        ],
        "current-context": CLUSTER,
        "preferences": {},
    }


def write_kubeconfig(
    info: LabInfo, path: Path | None = None, *, proxy_url: str | None = None
) -> Path:
    """Write the lab kubeconfig (or, with ``proxy_url``, a copy that goes through a proxy)."""
    import yaml

    target = path or info.paths.kubeconfig
    document = kubeconfig_document(info, proxy_url=proxy_url)
    atomic_write(target, yaml.safe_dump(document, sort_keys=False).encode("utf-8"), mode=0o600)
    return target


def write_bastion_kubeconfig(info: LabInfo, path: Path) -> Path:
    """A copy of the lab kubeconfig whose cluster goes through the bastion (``proxy-url``)."""
    return write_kubeconfig(info, path, proxy_url=info.proxy_url)


# -- leaving the shell as it was ---------------------------------------------------------
# `lab up`'s exports replace the user's KUBECONFIG (often a list), ZTCTL_CONFIG, … Its
# output first saves their values in shell variables (in the shell, never in a file: the
# previous ZTCTL_CF_API_TOKEN is a secret), like a Python venv's `_OLD_VIRTUAL_PATH`; `lab
# down`'s lines put them back. Plain POSIX sh: bash, zsh, dash.

SAVED_MARK = "_ZTCTL_LAB_SAVED"  # the lab directory whose `up` saved the values
SAVED_PREFIX = "_ZTCTL_LAB_OLD_"
SHELL_NAMES = (
    "ZTCTL_LAB_DIR",
    "ZTCTL_CONFIG",
    "ZTCTL_STATE_DIR",
    "KUBECONFIG",
    "KUBECACHEDIR",
    CF_TOKEN_ENV,
)


def save_lines(lab_dir: Path) -> list[str]:
    """Shell lines, before `lab up`'s exports, that keep what the exports replace. Only the
    first `up` of a shell saves: a second one must not save the lab's own values."""
    lines = [
        f'if [ -z "${{{SAVED_MARK}+x}}" ]; then',
        f"  {SAVED_MARK}={shlex.quote(str(LabPaths.of(lab_dir).root))}",
    ]
    for name in SHELL_NAMES:
        old = SAVED_PREFIX + name
        lines.append(f'  if [ -n "${{{name}+x}}" ]; then {old}=${name}; else unset {old}; fi')
    lines.append("fi")
    return lines


def restore_lines(lab_dir: Path) -> list[str]:
    """Shell lines that undo `lab up`'s exports: `eval "$(ztctl lab down --dir DIR)"`.

    In the shell that saved them (the same DIR), every variable gets its value from before
    `lab up` back (or is unset again). Elsewhere only the variables that still point at this
    lab are unset: a value the user set is never lost. The lab's bin leaves PATH either way.
    """
    paths = LabPaths.of(lab_dir)
    own = {
        "ZTCTL_LAB_DIR": shlex.quote(str(paths.root)),
        "ZTCTL_CONFIG": shlex.quote(str(paths.config)),
        "ZTCTL_STATE_DIR": shlex.quote(str(paths.state_dir)),
        "KUBECONFIG": shlex.quote(str(paths.kubeconfig)),
        "KUBECACHEDIR": shlex.quote(str(paths.kube_cache)),
        CF_TOKEN_ENV: f'"$(cat {shlex.quote(str(paths.cf_token))} 2>/dev/null)"',
    }
    lines = [f'if [ "${{{SAVED_MARK}-}}" = {shlex.quote(str(paths.root))} ]; then']
    for name in SHELL_NAMES:
        old = SAVED_PREFIX + name
        lines.append(
            f'  if [ -n "${{{old}+x}}" ]; then export {name}="${old}"; else unset {name}; fi'
        )
    lines.append(f"  unset {SAVED_MARK} " + " ".join(SAVED_PREFIX + n for n in SHELL_NAMES))
    lines.append("else")
    for name in SHELL_NAMES:
        lines.append(f'  if [ "${{{name}-}}" = {own[name]} ]; then unset {name}; fi')
    lines.append("fi")
    lines += path_removal_lines(paths.bin)
    return lines


def path_removal_lines(directory: Path) -> list[str]:
    """POSIX sh lines that remove every ``directory`` entry from PATH, wherever it sits
    (`lab up` prepends it, but a venv's activate may have gone in front since), keeping
    every other entry, empty ones included, in order. The directory is matched literally
    (quoted in the patterns), so a ``*`` or ``?`` in it is no wildcard."""
    b, p = "_ztctl_lab_bin", "_ztctl_lab_path"
    return [
        f"{b}={shlex.quote(str(directory))}",
        f'{p}=":$PATH:"',
        f'while :; do case "${p}" in *:"${b}":*) '
        f'{p}=${{{p}%%:"${b}":*}}:${{{p}#*:"${b}":}} ;; *) break ;; esac; done',
        f'{p}=${{{p}#:}}; export PATH="${{{p}%:}}"; unset {b} {p}',
    ]


def ever_ran(lab_dir: Path) -> bool:
    """Whether `lab up` ever ran in ``lab_dir`` (it leaves its state file behind)."""
    return LabPaths.of(lab_dir).state_file.exists()
