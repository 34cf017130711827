"""The credentials of one probe run, cached like client-go's in-memory cache: the exec
plugin's result (re-run when expired, or once after a 401), the bearer token, and the TLS
context with the cluster CA and the client certificate."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ztctl.adapters.wire import errors as wire_errors
from ztctl.core.probe import diagnose
from ztctl.core.probe.result import Problem

if TYPE_CHECKING:
    import ssl
    from collections.abc import Mapping

    from ztctl.adapters.execcred import PluginCredential
    from ztctl.adapters.wire.dial import Deadline
    from ztctl.core.probe.target import Target


class Failed(Exception):
    """Ends a probe with a Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


class Credentials:
    def __init__(
        self, target: Target, *, allow_interactive: bool, env: Mapping[str, str] | None
    ) -> None:
        self.target = target
        self.allow_interactive = allow_interactive
        self.env = env
        self.plugin: PluginCredential | None = None
        self.context: ssl.SSLContext | None = None
        self.token: str | None = None
        self.exec_ms: float | None = None
        self.refreshed_after_401 = False

    def prepare(self, deadline: Deadline) -> None:
        """Run the exec plugin if needed (or expired), read token files, build the context."""
        t = self.target
        if t.exec is not None and (self.plugin is None or self.plugin.expired()):
            self._run_plugin(deadline)
            self.context = None
        if self.context is None:
            self.context = self._build_context()
        self.token = self._token()

    def refresh_after_401(self, deadline: Deadline) -> bool:
        """client-go re-runs the plugin once after a 401; False when nothing to refresh."""
        if self.target.exec is None or self.refreshed_after_401:
            return False
        self.refreshed_after_401 = True
        self._run_plugin(deadline)
        self.context = self._build_context()
        self.token = self._token()
        return True

    def _run_plugin(self, deadline: Deadline) -> None:
        from ztctl.adapters.execcred import ExecPluginError, run_exec_plugin

        t = self.target
        assert t.exec is not None
        started = time.perf_counter()
        try:
            self.plugin = run_exec_plugin(
                t.exec,
                cluster=exec_cluster_info(t),
                timeout=max(deadline.remaining(), 0.05),
                allow_interactive=self.allow_interactive,
                base_env=self.env,
            )
        except ExecPluginError as exc:
            raise Failed(diagnose.exec_plugin_failed(exc.kind, exc.message, exc.fix)) from None
        finally:
            self.exec_ms = (time.perf_counter() - started) * 1000.0

    def _token(self) -> str | None:
        if self.plugin is not None and self.plugin.token:
            return self.plugin.token
        t = self.target
        if t.token_file is not None:
            from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

            try:
                raw = read_regular_file(t.token_file, MAX_PEM_BYTES)
                text = raw.decode("utf-8", "replace").strip()
            except OSError as exc:
                reason = exc.strerror or str(exc)
                raise Failed(diagnose.token_file_unreadable(t, reason)) from None
            if text:
                return text
        return t.token

    def _build_context(self) -> ssl.SSLContext:
        from ztctl.adapters.wire.tls import client_context

        t = self.target
        cert_pem, key_pem = t.client_certificate_pem, t.client_key_pem
        cert_file, key_file = t.client_certificate, t.client_key
        if self.plugin is not None and self.plugin.client_certificate_pem:
            cert_pem, key_pem = self.plugin.client_certificate_pem, self.plugin.client_key_pem
            cert_file = key_file = None
        try:
            return client_context(
                t.ca_pem,
                cert_pem=cert_pem,
                key_pem=key_pem,
                cert_file=cert_file,
                key_file=key_file,
            )
        except wire_errors.WireError as exc:
            where = f"{cert_file} / {key_file}" if cert_file else "the credential data"
            raise Failed(diagnose.context_failure(t, exc, where)) from None


def exec_cluster_info(t: Target) -> dict[str, Any]:
    """``ExecCredential.spec.cluster`` for a plugin with ``provideClusterInfo``."""
    info: dict[str, Any] = {"server": t.server}
    if t.tls_server_name:
        info["tls-server-name"] = t.tls_server_name
    if t.ca_pem:
        import base64

        info["certificate-authority-data"] = base64.b64encode(t.ca_pem).decode()
    if t.proxy_url:
        info["proxy-url"] = t.proxy_url
    return info
