"""``ztctl doctor --bundle FILE``: one redacted archive for a helpdesk ticket.

Members (under one ``ztctl-doctor-<UTC time>/`` folder):

- ``results.json``: the doctor document (docs/doctor.md);
- ``warp-cli.txt``: every warp-cli call doctor made, with its exit code and output;
- ``routes.txt``: the routing table (``ip route show table all`` and ``ip rule`` on Linux,
  ``netstat -rn`` on macOS) and the route to each cluster address;
- ``dns.txt``: ``/etc/resolv.conf`` and what each cluster's server name resolves to;
- ``kubeconfig.json``: the *structure* of every kubeconfig file kubectl would load — names,
  servers, file paths, context wiring, which credential kind a user has — and never a
  secret: no ``*-data``, token, password, auth-provider config or exec ``env`` value, and
  exec arguments that look like secrets are replaced;
- ``config.json``, ``environment.json``, ``versions.json``.

Redaction happens twice: by construction (the structure above), then a final scrub of every
member against every secret value ztctl saw while building it (kubeconfig secrets, the
keyring's Access tokens) and against secret-shaped text (JWTs, PEM private keys, bearer
headers, WARP license keys). ``.zip`` writes a zip file, ``.tar.gz``/``.tgz`` a gzip tar;
the file is created 0600, atomically. Nothing here prints.
"""

from __future__ import annotations

import base64
import io
import json
import platform
import re
import shutil
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ztctl import __version__
from ztctl.adapters.fs import atomic_write
from ztctl.errors import OperationFailed, UsageError

OMITTED = "<omitted>"
REDACTED = "<redacted>"
FORMATS = (".tar.gz", ".tgz", ".zip")

# Secret-shaped text, whatever its source.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.S,
        ),
        "<redacted private key>",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<redacted JWT>"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"(?i)(CF_Authorization=)[^;\s\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?im)^(\s*(?:\([^)]*\)\s*)?License:\s*)\S.*$"), r"\1" + REDACTED),
    (re.compile(r'(?i)("license"\s*:\s*")[^"]*(")'), r"\1" + REDACTED + r"\2"),
    (re.compile(r"(?i)(com\.cloudflare\.warp://\S*?token=)[^\s&\"']+"), r"\1" + REDACTED),
)
# Exec arguments whose value is a secret: `--token X`, `--password=X`, `-p X`...
_SECRET_FLAG = re.compile(
    r"(?i)^-{1,2}[a-z0-9-]*(token|secret|password|passwd|key|auth)[a-z0-9-]*$"
)
_SECRET_ASSIGN = re.compile(
    r"(?i)^(-{0,2}[a-z0-9_-]*(?:token|secret|password|passwd|key|auth)[a-z0-9_-]*=)(.+)$"
)

_CLUSTER_KEEP = (
    "server",
    "tls-server-name",
    "insecure-skip-tls-verify",
    "certificate-authority",
    "proxy-url",
    "disable-compression",
)
_USER_PATHS = ("client-certificate", "client-key", "tokenFile")
_USER_SECRETS = (
    "client-certificate-data",
    "client-key-data",
    "token",
    "password",
    "username",
)
_CONTEXT_KEEP = ("cluster", "user", "namespace")


@dataclass
class Scrubber:
    """Replaces known secret values and secret-shaped text."""

    secrets: set[str] = field(default_factory=set)

    def add(self, value: Any) -> None:
        if not isinstance(value, str):
            return
        value = value.strip()
        if len(value) < 6:
            return  # too short to scrub without mangling ordinary text
        self.secrets.add(value)
        # base64 "*-data" values: the decoded PEM too, and each of its lines
        if re.fullmatch(r"[A-Za-z0-9+/=\s]+", value) and len(value) >= 16:
            try:
                decoded = base64.b64decode(value, validate=False).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                decoded = ""
            if decoded.strip():
                self.secrets.add(decoded.strip())
                for line in decoded.splitlines():
                    if len(line.strip()) >= 16 and not line.startswith("-----"):
                        self.secrets.add(line.strip())

    def __call__(self, text: str) -> str:
        from ztctl.core.redact import hide_passwords

        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        # Any URL in any member: a password after `user:`, a presigned signature, a token.
        return hide_passwords(text)


def _redact_url(url: Any) -> Any:
    """``scheme://user:password@host`` (or ``user:password@host``, as proxy variables may
    be written) with the user and password replaced; in a mapping (a config section), every
    value's."""
    if isinstance(url, Mapping):
        return {key: _redact_url(value) for key, value in url.items()}
    if not isinstance(url, str) or "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" not in rest:
        return url
    host = rest.rsplit("@", 1)[-1]
    return f"{scheme}{sep}{REDACTED}@{host}"


def _scrub_userinfo(url: Any, scrub: Scrubber) -> None:
    """Hand the user and password of ``scheme://user:password@host`` to the scrub (the
    password also percent-decoded, as other tools print it)."""
    if not isinstance(url, str) or "@" not in url:
        return
    rest = url.partition("://")[2] if "://" in url else url
    userinfo = rest.rpartition("@")[0]
    password = userinfo.partition(":")[2]
    scrub.add(userinfo)
    scrub.add(password)
    scrub.add(unquote(password))


_SUBCOMMAND = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _exec_args(args: Any, scrub: Scrubber) -> list[str]:
    """Exec plugin arguments with every value that may be a secret replaced.

    Kept: flags, the values of flags whose name does not say secret, and leading subcommand
    words (``get-token``). Replaced: values of secret-named flags, and every other
    positional argument (a plugin may take its token or password positionally).
    """
    if not isinstance(args, list):
        return []
    out: list[str] = []
    hide_next = False
    after_flag = False
    leading = True
    for arg in args:
        text = str(arg)
        if hide_next:
            scrub.add(text)
            out.append(REDACTED)
            hide_next = after_flag = False
            continue
        match = _SECRET_ASSIGN.match(text)
        if match:
            scrub.add(match.group(2))
            out.append(match.group(1) + REDACTED)
            leading = after_flag = False
            continue
        if text.startswith("-") and len(text) > 1:
            hide_next = bool(_SECRET_FLAG.match(text))
            after_flag = "=" not in text
            leading = False
            out.append(text)
            continue
        if after_flag or (leading and _SUBCOMMAND.fullmatch(text)):
            out.append(text)  # a flag's value, or a subcommand word
        else:
            scrub.add(text)
            out.append(REDACTED)
            leading = False
        after_flag = False
    return out


def _user_structure(body: Mapping[str, Any], scrub: Scrubber) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in _USER_PATHS:
        if key in body:
            out[key] = body[key]
    for key in _USER_SECRETS:
        if key in body:
            scrub.add(body[key])
            out[key] = OMITTED
    provider = body.get("auth-provider")
    if isinstance(provider, Mapping):
        for value in (provider.get("config") or {}).values():
            scrub.add(value)
        out["auth-provider"] = {"name": provider.get("name"), "config": OMITTED}
    exec_ = body.get("exec")
    if isinstance(exec_, Mapping):
        env = []
        for item in exec_.get("env") or []:
            if isinstance(item, Mapping):
                scrub.add(item.get("value"))
                env.append({"name": item.get("name"), "value": OMITTED})
        out["exec"] = {
            "command": exec_.get("command"),
            "args": _exec_args(exec_.get("args"), scrub),
            "env": env,
            "apiVersion": exec_.get("apiVersion"),
            "interactiveMode": exec_.get("interactiveMode"),
            "provideClusterInfo": exec_.get("provideClusterInfo"),
        }
    others = sorted(k for k in body if k not in out and k != "extensions")
    for key in others:
        scrub.add(body[key])
        out[key] = OMITTED
    if body.get("extensions"):
        out["extensions"] = _extension_names(body["extensions"])
    return out


def _extension_names(extensions: Any) -> list[Any]:
    names: list[Any] = []
    for ext in extensions if isinstance(extensions, list) else []:
        if isinstance(ext, Mapping):
            if ext.get("name") == "ztctl":
                names.append({"name": "ztctl", "extension": ext.get("extension")})
            else:
                names.append({"name": ext.get("name")})
    return names


def kubeconfig_structure(paths: Sequence[Path], scrub: Scrubber) -> dict[str, Any]:
    """The structure of each kubeconfig file, secrets left out (their values go to ``scrub``)."""
    from ztctl.core.kubeconfig.files import read_file
    from ztctl.errors import ZtctlError

    files: list[dict[str, Any]] = []
    for path in paths:
        entry: dict[str, Any] = {"path": str(path)}
        try:
            kube = read_file(path)
        except ZtctlError as exc:
            entry["error"] = exc.message
            files.append(entry)
            continue
        entry["exists"] = kube.exists
        if not kube.exists:
            files.append(entry)
            continue
        data = kube.data
        clusters = []
        for item in kube.items("clusters"):
            body = (item or {}).get("cluster") or {}
            if not isinstance(body, Mapping):
                body = {}
            scrub.add(body.get("certificate-authority-data"))
            shown: dict[str, Any] = {k: body[k] for k in _CLUSTER_KEEP if k in body}
            for key in ("proxy-url", "server"):
                if key in shown:
                    _scrub_userinfo(shown[key], scrub)  # other members may quote the URL
                    shown[key] = _redact_url(shown[key])
            if "certificate-authority-data" in body:
                shown["certificate-authority-data"] = OMITTED
            for key in body:
                if key not in shown and key != "extensions":
                    scrub.add(body[key])
                    shown[key] = OMITTED
            if body.get("extensions"):
                shown["extensions"] = _extension_names(body["extensions"])
            clusters.append({"name": (item or {}).get("name"), "cluster": shown})
        users = []
        for item in kube.items("users"):
            body = (item or {}).get("user") or {}
            users.append(
                {
                    "name": (item or {}).get("name"),
                    "user": _user_structure(body if isinstance(body, Mapping) else {}, scrub),
                }
            )
        contexts = []
        for item in kube.items("contexts"):
            body = (item or {}).get("context") or {}
            if not isinstance(body, Mapping):
                body = {}
            shown = {k: body[k] for k in _CONTEXT_KEEP if k in body}
            if body.get("extensions"):
                shown["extensions"] = _extension_names(body["extensions"])
            contexts.append({"name": (item or {}).get("name"), "context": shown})
        entry.update(
            {
                "current-context": data.get("current-context"),
                "clusters": clusters,
                "users": users,
                "contexts": contexts,
            }
        )
        files.append(entry)
    return {"files": files}


def _versions(warp_version: str | None, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ztctl": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "system": sys.platform,
        "warp-cli": warp_version,
    }
    from ztctl.adapters.procs import kubectl_client_version

    kubectl = shutil.which("kubectl")
    if kubectl:
        out["kubectl"] = kubectl_client_version(kubectl, timeout)
    return out


_ENV_NAMES = (
    "KUBECONFIG",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def _environment(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in sorted(env):
        if name in _ENV_NAMES or (name.startswith("ZTCTL_") and "TOKEN" not in name):
            out[name] = _redact_url(env[name])
    return out


@dataclass(frozen=True)
class BundleInput:
    """What doctor hands over; everything else is collected here."""

    results: Mapping[str, Any]  # the doctor JSON document
    warp_runs: Sequence[Any] = ()  # ztctl.adapters.warp.WarpRun
    warp_version: str | None = None
    addresses: Sequence[tuple[str, str, str]] = ()  # (cluster, host, address)
    kubeconfig_paths: Sequence[Path] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    secrets: Iterable[str] = ()  # values to scrub (e.g. the keyring's tokens)


def _warp_text(runs: Sequence[Any]) -> str:
    if not runs:
        return "(doctor did not run warp-cli)\n"
    parts = []
    for run in runs:
        parts.append(
            f"$ warp-cli {' '.join(run.args)}   # exit {run.exit_code}, {run.duration_ms:.0f} ms\n"
            f"{run.stdout}" + (f"[stderr]\n{run.stderr}" if run.stderr.strip() else "")
        )
    return "\n".join(parts)


def _routes_text(addresses: Sequence[tuple[str, str, str]], timeout: float) -> str:
    from ztctl.adapters.routes import RouteUnavailable, route_get, route_table

    parts = [route_table(timeout=timeout) or "(no routing table available here)"]
    for cluster, _host, address in addresses:
        try:
            info = route_get(address, timeout=timeout)
            parts.append(f"# route to {address} ({cluster})\n{info.raw or info.to_dict()}")
        except (RouteUnavailable, ValueError) as exc:
            parts.append(f"# route to {address} ({cluster}): {exc}")
    return "\n".join(parts) + "\n"


def _dns_text(addresses: Sequence[tuple[str, str, str]], timeout: float) -> str:
    from ztctl.adapters.dns import RESOLV_CONF, resolve, resolver_config

    conf = resolver_config()
    parts = [f"# {RESOLV_CONF}\n{conf.raw or '(none)'}"]
    for host in sorted({h for _c, h, _a in addresses}):
        answer = resolve(host, timeout=timeout)
        shown = ", ".join(answer.addresses) if answer.ok else f"error: {answer.error}"
        parts.append(f"# {host}: {shown}")
    return "\n".join(parts) + "\n"


def collect(data: BundleInput, *, timeout: float = 2.0) -> dict[str, str]:
    """The bundle's members (name → text), already scrubbed."""
    scrub = Scrubber()
    for secret in data.secrets:
        scrub.add(secret)
    structure = kubeconfig_structure(list(data.kubeconfig_paths), scrub)
    members = {
        "results.json": json.dumps({"schemaVersion": 1, **data.results}, indent=2, default=str),
        "warp-cli.txt": _warp_text(list(data.warp_runs)),
        "routes.txt": _routes_text(list(data.addresses), timeout),
        "dns.txt": _dns_text(list(data.addresses), timeout),
        "kubeconfig.json": json.dumps(structure, indent=2, default=str),
        "config.json": json.dumps(
            {k: _redact_url(v) for k, v in data.config.items()}, indent=2, default=str
        ),
        "environment.json": json.dumps(_environment(data.env), indent=2),
        "versions.json": json.dumps(_versions(data.warp_version, timeout), indent=2),
    }
    return {name: scrub(text) for name, text in members.items()}


def archive_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".zip"):
        return "zip"
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    raise UsageError(
        f"cannot tell the archive format of {path}",
        "name the bundle FILE.tar.gz (or .tgz) or FILE.zip",
    )


def write_bundle(path: Path, members: Mapping[str, str]) -> Path:
    """Write ``members`` into ``path`` (format from its name), 0600, atomically."""
    kind = archive_format(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = f"ztctl-doctor-{stamp}"
    buffer = io.BytesIO()
    now = time.time()
    if kind == "zip":
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, text in members.items():
                zinfo = zipfile.ZipInfo(f"{folder}/{name}", time.gmtime(now)[:6])
                zinfo.external_attr = 0o600 << 16
                zinfo.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(zinfo, text.encode("utf-8"))
    else:
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for name, text in members.items():
                raw = text.encode("utf-8")
                tinfo = tarfile.TarInfo(f"{folder}/{name}")
                tinfo.size = len(raw)
                tinfo.mode = 0o600
                tinfo.mtime = int(now)
                archive.addfile(tinfo, io.BytesIO(raw))
    target = path.expanduser()
    try:
        atomic_write(target, buffer.getvalue(), mode=0o600)
    except OSError as exc:
        raise OperationFailed(
            f"cannot write the bundle {target}: {exc.strerror or exc}",
            "choose a writable path for --bundle",
        ) from None
    return target


def read_members(path: Path) -> dict[str, str]:
    """Every member of a bundle (for tests and for looking inside one)."""
    out: dict[str, str] = {}
    if archive_format(path) == "zip":
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                out[name] = archive.read(name).decode("utf-8", "replace")
    else:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member)
                if extracted is not None:
                    out[member.name] = extracted.read().decode("utf-8", "replace")
    return out
