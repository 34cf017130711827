"""Run a kubectl exec credential plugin the way client-go does.

- ``KUBERNETES_EXEC_INFO`` always holds an ``ExecCredential`` in the configured apiVersion,
  with ``spec.interactive`` and, with ``provideClusterInfo``, ``spec.cluster``.
- The plugin's environment is ours plus ``exec.env``; its stderr goes straight to the user;
  stdin is passed only when interactive (``Never`` / ``IfAvailable`` / ``Always``).
- stdout must be exactly one ``ExecCredential`` of the same apiVersion, with ``status.token``
  or both ``clientCertificateData`` and ``clientKeyData`` (PEM); ``expirationTimestamp``
  is optional RFC 3339.

Nothing here prints. Failures are :class:`ExecPluginError` (what failed, and a fix).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
INTERACTIVE_MODES = ("Never", "IfAvailable", "Always")


class ExecPluginError(Exception):
    """The plugin is missing, failed, timed out or printed something that is not a credential."""

    def __init__(self, message: str, fix: str, *, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.kind = kind  # not-found | failed | timeout | invalid-output | config | interactive


@dataclass(frozen=True)
class ExecConfig:
    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    api_version: str = "client.authentication.k8s.io/v1"
    interactive_mode: str | None = None  # None = IfAvailable (v1beta1's decode default)
    provide_cluster_info: bool = False
    install_hint: str | None = None


@dataclass(frozen=True)
class PluginCredential:
    token: str | None = field(default=None, repr=False)
    client_certificate_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    expiration: datetime | None = None  # aware, UTC

    def expired(self, now: datetime | None = None) -> bool:
        if self.expiration is None:
            return False
        return (now or datetime.now(timezone.utc)) >= self.expiration


def exec_info(config: ExecConfig, *, interactive: bool, cluster: Mapping[str, Any] | None) -> str:
    """The ``KUBERNETES_EXEC_INFO`` document."""
    spec: dict[str, Any] = {"interactive": interactive}
    if config.provide_cluster_info and cluster is not None:
        spec["cluster"] = dict(cluster)
    return json.dumps(
        {"kind": "ExecCredential", "apiVersion": config.api_version, "spec": spec},
        separators=(",", ":"),
    )


def run_exec_plugin(
    config: ExecConfig,
    *,
    cluster: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    stdin_is_tty: bool | None = None,
    allow_interactive: bool = True,
    base_env: Mapping[str, str] | None = None,
) -> PluginCredential:
    """Run the plugin once and return its credential.

    ``stdin_is_tty`` defaults to whether our stdin is a terminal; ``allow_interactive=False``
    (``--no-input``) makes ``IfAvailable`` non-interactive and ``Always`` an error.
    """
    mode = _checked_mode(config)
    if stdin_is_tty is None:
        try:
            stdin_is_tty = sys.stdin is not None and sys.stdin.isatty()
        except (ValueError, OSError):
            stdin_is_tty = False
    import shutil
    import subprocess

    from ztctl.adapters.procs import OutputTooLarge, run_capped

    tty = bool(stdin_is_tty) and allow_interactive
    if mode == "Always" and not tty:
        raise ExecPluginError(
            f"exec plugin {config.command} needs an interactive terminal: "
            "standard input is not a terminal",
            "run the command from a terminal, without --no-input",
            kind="interactive",
        )
    interactive = mode != "Never" and tty

    env = dict(os.environ if base_env is None else base_env)
    env.update(dict(config.env))
    env["KUBERNETES_EXEC_INFO"] = exec_info(config, interactive=interactive, cluster=cluster)

    executable = config.command
    if os.sep not in executable and shutil.which(executable, path=env.get("PATH")) is None:
        raise _not_found(config)
    try:
        completed = run_capped(
            [executable, *config.args],
            env=env,
            stdin=None if interactive else subprocess.DEVNULL,
            capture_stderr=False,  # straight to the user, as client-go does
            new_session=False,  # it may prompt on the terminal
            timeout=timeout,
        )
    except OutputTooLarge as exc:
        raise ExecPluginError(
            f"exec plugin {config.command} printed more than {exc.limit // 1024} KiB: "
            "that is not an ExecCredential (stopped it)",
            "run the plugin by hand to see what it prints; check the catalog's exec command",
            kind="invalid-output",
        ) from None
    except FileNotFoundError:
        raise _not_found(config) from None
    except PermissionError:
        raise ExecPluginError(
            f"exec plugin {config.command} is not executable",
            f"chmod +x {config.command}",
            kind="not-found",
        ) from None
    except subprocess.TimeoutExpired:
        raise ExecPluginError(
            f"exec plugin {config.command} did not finish within {timeout:g}s",
            "run the plugin by hand to see what it waits for (a login prompt?)",
            kind="timeout",
        ) from None
    if completed.returncode != 0:
        raise ExecPluginError(
            f"exec: executable {config.command} failed with exit code {completed.returncode}",
            "read the plugin's own message above; it usually says how to log in again",
            kind="failed",
        )
    return parse_exec_output(config, completed.stdout)


def _checked_mode(config: ExecConfig) -> str:
    """The plugin's interactiveMode (default IfAvailable), after checking its apiVersion."""
    if config.api_version not in API_VERSIONS:
        raise ExecPluginError(
            f"exec plugin {config.command}: invalid apiVersion {config.api_version!r}",
            f"set exec.apiVersion to {API_VERSIONS[0]} (v1alpha1 was removed in Kubernetes 1.24)",
            kind="config",
        )
    mode = config.interactive_mode or "IfAvailable"
    if mode not in INTERACTIVE_MODES:
        raise ExecPluginError(
            f"exec plugin {config.command}: invalid interactiveMode {mode!r}",
            "set exec.interactiveMode to Never, IfAvailable or Always",
            kind="config",
        )
    return mode


def _not_found(config: ExecConfig) -> ExecPluginError:
    fix = config.install_hint.strip() if config.install_hint else f"install {config.command}"
    return ExecPluginError(
        f"exec: executable {config.command} not found", fix + " or fix PATH", kind="not-found"
    )


def parse_exec_output(config: ExecConfig, stdout: bytes) -> PluginCredential:
    """Decode the plugin's stdout per client-go's rules."""
    fix = f"make {config.command} print exactly one ExecCredential JSON document on stdout"
    try:
        document = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExecPluginError(
            f"exec plugin {config.command}: decoding stdout: {exc}", fix, kind="invalid-output"
        ) from None
    if not isinstance(document, dict) or document.get("kind") != "ExecCredential":
        raise ExecPluginError(
            f"exec plugin {config.command}: stdout is not an ExecCredential",
            fix,
            kind="invalid-output",
        )
    returned = document.get("apiVersion")
    if returned != config.api_version:
        raise ExecPluginError(
            f"exec plugin is configured to use API version {config.api_version}, "
            f"plugin returned version {returned}",
            f"set exec.apiVersion to {returned} or update {config.command}",
            kind="invalid-output",
        )
    status = document.get("status")
    if not isinstance(status, dict):
        raise ExecPluginError(
            f"exec plugin {config.command} didn't return a status field", fix, kind="invalid-output"
        )
    token = status.get("token") or None
    cert = status.get("clientCertificateData") or None
    key = status.get("clientKeyData") or None
    if (cert is None) != (key is None):
        raise ExecPluginError(
            f"exec plugin {config.command}: clientCertificateData and clientKeyData "
            "must both be present",
            fix,
            kind="invalid-output",
        )
    if token is None and cert is None:
        raise ExecPluginError(
            f"exec plugin {config.command} didn't return a token or cert/key pair",
            fix,
            kind="invalid-output",
        )
    for name, value in (("token", token), ("clientCertificateData", cert), ("clientKeyData", key)):
        if value is not None and not isinstance(value, str):
            raise ExecPluginError(
                f"exec plugin {config.command}: status.{name} is not a string",
                fix,
                kind="invalid-output",
            )
    expiration = None
    raw_expiry = status.get("expirationTimestamp")
    if raw_expiry:
        expiration = parse_rfc3339(str(raw_expiry))
        if expiration is None:
            raise ExecPluginError(
                f"exec plugin {config.command}: expirationTimestamp {raw_expiry!r} is not RFC 3339",
                fix,
                kind="invalid-output",
            )
    return PluginCredential(
        token=token,
        client_certificate_pem=cert.encode() if cert else None,
        client_key_pem=key.encode() if key else None,
        expiration=expiration,
    )


def parse_rfc3339(text: str) -> datetime | None:
    import re

    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    # Python 3.10's fromisoformat wants 0, 3 or 6 fractional digits; Go writes up to 9.
    value = re.sub(r"\.(\d+)", lambda m: "." + (m.group(1) + "000000")[:6], value, count=1)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(timezone.utc)
