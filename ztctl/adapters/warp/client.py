"""The :class:`WarpClient`: runs ``warp-cli`` with a timeout, learns its era, prefers
``--json``, and falls back to text and to renamed subcommands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from ztctl.adapters.procs import OutputTooLarge, run_capped
from ztctl.adapters.warp.parse import (
    _clap_word,
    classify_error,
    error_detail,
    parse_help_commands,
    parse_registration,
    parse_settings,
    parse_status,
    parse_tunnel_ip_list,
    parse_version,
)
from ztctl.adapters.warp.types import (
    CLI_MODES,
    DEFAULT_TIMEOUT,
    Enrollment,
    SplitTunnel,
    WarpActionNeeded,
    WarpError,
    WarpErrorKind,
    WarpParseError,
    WarpRegistration,
    WarpRun,
    WarpSettings,
    WarpStatus,
    WarpTimeout,
    WarpVersion,
)

# ---------------------------------------------------------------------------------------
# The client


def _daemon_fix() -> str:
    if sys.platform == "darwin":
        return "open the Cloudflare WARP app (it starts the daemon), then retry"
    if sys.platform.startswith("win"):
        return "start the CloudflareWARP service (`net start CloudflareWARP`), then retry"
    return "start the WARP daemon: `sudo systemctl enable --now warp-svc`, then retry"


def _redact(args: Sequence[str]) -> tuple[str, ...]:
    """Hide the one-time enrolment token of `registration token <url>`."""
    out: list[str] = []
    hide = False
    for arg in args:
        out.append("<redacted>" if hide else arg)
        hide = arg in {"token", "teams-enroll-token"}
    return tuple(out)


class WarpClient:
    """Runs ``warp-cli`` and parses what it prints, for any recorded version era.

    Every call has a timeout (default 3 s); a hung client raises :class:`WarpTimeout`.
    Each invocation is appended to :attr:`transcript` (for ``doctor --bundle``). Safe to use
    from several threads.
    """

    def __init__(
        self,
        cli: str = "warp-cli",
        *,
        timeout: float = DEFAULT_TIMEOUT,
        env: dict[str, str] | None = None,
    ) -> None:
        self.cli = cli
        self.timeout = timeout
        self.env = env
        self.transcript: list[WarpRun] = []
        self._lock = threading.Lock()
        self._path: str | None = None
        self._version: WarpVersion | None = None
        self._version_checked = False
        self._json: bool | None = None
        self._new_names: bool | None = None

    # -- raw running ----------------------------------------------------------------

    def executable(self) -> str:
        """The resolved path of warp-cli, or :class:`WarpError` (``NOT_INSTALLED``)."""
        if self._path is None:
            found = shutil.which(self.cli) if os.sep not in self.cli else self.cli
            if not found and self.cli == "warp-cli":
                # Not on PATH: where the vendor installers put it (the macOS app bundle...).
                from ztctl.adapters.mdm import warp_cli_paths

                found = next(
                    (p for p in warp_cli_paths() if os.path.isfile(p) and os.access(p, os.X_OK)),
                    None,
                )
            if not found or not os.access(found, os.X_OK):
                raise WarpError(
                    WarpErrorKind.NOT_INSTALLED,
                    f"warp-cli was not found (looked for `{self.cli}`)",
                    "install the Cloudflare WARP client, or point ztctl at it with "
                    "`warp.cli` in the config file or ZTCTL_WARP_CLI",
                )
            self._path = found
        return self._path

    def run(self, args: Sequence[str], *, timeout: float | None = None) -> WarpRun:
        """Run ``warp-cli ARGS`` without a TTY; raise only for not-installed and timeout."""
        path = self.executable()
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        try:
            # In a session of its own, so a timeout or the output cap kills the whole group;
            # killed too when ztctl is interrupted or exits meanwhile.
            done = run_capped([path, *args], timeout=limit, env=self.env)
        except OSError as exc:
            raise WarpError(
                WarpErrorKind.NOT_INSTALLED,
                f"warp-cli at {path} could not be started: {exc.strerror or exc}",
                "reinstall the Cloudflare WARP client",
            ) from exc
        except subprocess.TimeoutExpired:
            self._record(args, -9, b"", b"", started)
            raise WarpTimeout(
                WarpErrorKind.TIMEOUT,
                f"`warp-cli {' '.join(_redact(args))}` did not answer within {limit:g} s "
                "(the WARP client is hung)",
                "restart the WARP daemon (`sudo systemctl restart warp-svc`, or quit and "
                "reopen the Cloudflare WARP app), then retry",
                command=_redact(args),
            ) from None
        except OutputTooLarge as exc:
            self._record(args, -9, b"", b"", started)
            raise WarpError(
                WarpErrorKind.UNKNOWN,
                f"`warp-cli {' '.join(_redact(args))}` printed more than "
                f"{exc.limit // 1024} KiB on {exc.stream}: that is not the WARP client's "
                f"answer (stopped it at {path})",
                "check that `warp.cli` in the config file (or ZTCTL_WARP_CLI) names the "
                "Cloudflare WARP client, or reinstall it",
                command=_redact(args),
            ) from None
        out, err = done.stdout, done.stderr
        return self._record(args, done.returncode, out, err, started)

    def _record(
        self, args: Sequence[str], code: int, out: bytes, err: bytes, started: float
    ) -> WarpRun:
        run = WarpRun(
            args=_redact(args),
            exit_code=code,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            duration_ms=(time.monotonic() - started) * 1000.0,
        )
        with self._lock:
            self.transcript.append(run)
        return run

    def _raise_for(self, run: WarpRun, kind: WarpErrorKind) -> None:
        cmd = " ".join(run.args)
        detail = error_detail(run.stdout, run.stderr)
        known = _KNOWN_FAILURES.get(kind)
        if known is not None:
            error, message, fix = known
            raise error(
                kind,
                message.format(cmd=cmd),
                fix if fix is not None else _daemon_fix(),
                command=run.args,
                output=detail,
            )
        if kind in (
            WarpErrorKind.UNRECOGNIZED_SUBCOMMAND,
            WarpErrorKind.UNEXPECTED_ARGUMENT,
            WarpErrorKind.INVALID_VALUE,
        ):
            version = f" {self._version}" if self._version else ""
            raise WarpError(
                kind,
                f"this warp-cli{version} does not understand `warp-cli {cmd}` ({detail})",
                "update the Cloudflare WARP client",
                command=run.args,
                output=detail,
            )
        raise WarpError(
            kind,
            f"`warp-cli {cmd}` failed with exit code {run.exit_code}: {detail or 'no output'}",
            f"run `warp-cli {cmd}` by hand to see the full output",
            command=run.args,
            output=detail,
        )

    def _check(self, run: WarpRun) -> WarpRun:
        kind = classify_error(run.stdout, run.stderr, run.exit_code)
        if kind is not None:
            self._raise_for(run, kind)
        return run

    # -- era detection --------------------------------------------------------------

    def version(self) -> WarpVersion:
        """``warp-cli --version`` (cached). Raises WarpError / WarpParseError."""
        if self._version is not None:
            return self._version
        run = self._check(self.run(["--version"]))
        self._version = parse_version(run.stdout)
        return self._version

    def _learn_era(self) -> None:
        if self._version_checked:
            return
        self._version_checked = True
        try:
            version: WarpVersion | None = self.version()
        except WarpParseError:
            version = None
        if version is not None:
            # New command names from 2024.2; `-j/--json` in 2025 builds (first version
            # unconfirmed: a rejected `--json` switches to text anyway).
            self._new_names = version.at_least(2024, 2)
            self._json = version.at_least(2025)
            return
        try:
            help_run = self.run(["--help"])
            commands = parse_help_commands(help_run.stdout)
        except WarpParseError:
            self._new_names, self._json = True, True
            return
        self._new_names = "registration" in commands
        self._json = "--json" in help_run.stdout

    @property
    def new_names(self) -> bool:
        self._learn_era()
        return bool(self._new_names)

    @property
    def supports_json(self) -> bool:
        self._learn_era()
        return bool(self._json)

    def _run_preferring_json(self, args: Sequence[str]) -> tuple[WarpRun, bool]:
        """Run with ``--json`` where supported; fall back to text if clap rejects it."""
        if self.supports_json:
            run = self.run(["--json", *args])
            kind = classify_error(run.stdout, run.stderr, run.exit_code)
            rejected = kind is WarpErrorKind.UNEXPECTED_ARGUMENT and (
                (_clap_word(run.stdout, run.stderr) or "").lstrip("-") in {"json", "j"}
            )
            if not rejected:
                return self._check(run), True
            self._json = False
        return self._check(self.run(list(args))), False

    def _run_renamed(self, new: Sequence[str], old: Sequence[str]) -> WarpRun:
        """Run the era's name of a renamed command; on `unrecognized subcommand` the other."""
        first, second = (new, old) if self.new_names else (old, new)
        run = self.run(list(first))
        kind = classify_error(run.stdout, run.stderr, run.exit_code)
        if kind is WarpErrorKind.UNRECOGNIZED_SUBCOMMAND:
            self._new_names = not self._new_names
            run = self.run(list(second))
        return self._check(run)

    # -- queries --------------------------------------------------------------------

    def status(self) -> WarpStatus:
        run, as_json = self._run_preferring_json(["status"])
        try:
            return parse_status(run.stdout)
        except WarpParseError:
            if not as_json:
                raise
        return parse_status(self._check(self.run(["status"])).stdout)

    def registration(self) -> WarpRegistration | None:
        """The device's registration, or ``None`` when the device has none."""
        try:
            if self.new_names and self.supports_json:
                run, as_json = self._run_preferring_json(["registration", "show"])
                try:
                    reg = parse_registration(run.stdout)
                except WarpParseError:
                    if not as_json:
                        raise
                else:
                    if not (reg.is_team and reg.organization is None):
                        return reg
                # JSON without the organization (unconfirmed field): the text has it.
                return parse_registration(self._check(self.run(["registration", "show"])).stdout)
            run = self._run_renamed(["registration", "show"], ["account"])
            return parse_registration(run.stdout)
        except WarpActionNeeded as exc:
            if exc.reason is WarpErrorKind.MISSING_REGISTRATION:
                return None
            raise

    def settings(self) -> WarpSettings:
        run, as_json = self._run_preferring_json(["settings"])
        try:
            return parse_settings(run.stdout)
        except WarpParseError:
            if not as_json:
                raise
        return parse_settings(self._check(self.run(["settings"])).stdout)

    def split_tunnel(self) -> SplitTunnel:
        """The effective split tunnel, from ``settings`` (the docs-backed source)."""
        return self.settings().split_tunnel

    def tunnel_routes(self) -> SplitTunnel:
        """``tunnel ip list`` (``get-excluded-routes`` on old clients)."""
        run = self._run_renamed(["tunnel", "ip", "list"], ["get-excluded-routes"])
        return parse_tunnel_ip_list(run.stdout)

    # -- actions --------------------------------------------------------------------

    def connect(self) -> None:
        self._check(self.run(["connect"]))

    def disconnect(self) -> None:
        self._check(self.run(["disconnect"]))

    def set_mode(self, mode: str) -> None:
        if mode not in CLI_MODES:
            raise WarpError(
                WarpErrorKind.INVALID_VALUE,
                f"`{mode}` is not a WARP mode",
                f"use one of: {', '.join(CLI_MODES)}",
            )
        self._run_renamed(["mode", mode], ["set-mode", mode])

    def register(self, team: str | None) -> Enrollment:
        """Enrol in ``team`` (``registration new TEAM`` / ``teams-enroll TEAM``), or make a
        consumer registration when ``team`` is None. Returns the printed enrolment URL, which
        a person opens in a browser to finish the enrolment."""
        if team is None:
            run = self._run_renamed(["registration", "new"], ["register"])
        else:
            run = self._run_renamed(["registration", "new", team], ["teams-enroll", team])
        match = re.search(r"https://\S+", run.stdout)
        return Enrollment(team=team, url=match.group(0) if match else None, output=run.stdout)

    def register_token(self, url: str) -> None:
        """Finish an enrolment with the ``com.cloudflare.warp://...`` callback URL."""
        self._run_renamed(["registration", "token", url], ["teams-enroll-token", url])

    def delete_registration(self) -> None:
        self._run_renamed(["registration", "delete"], ["delete"])


# What each recognised warp-cli failure means: the error to raise, the message (``{cmd}``:
# the command) and the fix (None: the daemon fix of this platform).
_KNOWN_FAILURES: dict[WarpErrorKind, tuple[type[WarpError], str, str | None]] = {
    WarpErrorKind.NO_DAEMON: (
        WarpError,
        "the WARP daemon is not running (warp-cli cannot reach it)",
        None,
    ),
    WarpErrorKind.TOS_NOT_ACCEPTED: (
        WarpActionNeeded,
        "the WARP client's Terms of Service have not been accepted on this device",
        "run `warp-cli status` in a terminal and answer the prompt (or, having read "
        "the terms, `warp-cli --accept-tos status`); ztctl does not accept them for you",
    ),
    WarpErrorKind.MISSING_REGISTRATION: (
        WarpActionNeeded,
        "this device is not enrolled in a Zero Trust team (warp-cli has no registration)",
        "run `ztctl login`",
    ),
    WarpErrorKind.OLD_REGISTRATION: (
        WarpError,
        "warp-cli refused to enrol: an old registration is still on this device",
        "run `warp-cli registration delete` (or `warp-cli delete` on old clients), "
        "then `ztctl login`",
    ),
    WarpErrorKind.API_UNREACHABLE: (
        WarpError,
        "the WARP client could not reach the Cloudflare API",
        "check the network connection (captive portal, firewall, proxy) and retry",
    ),
    WarpErrorKind.NOT_CONNECTED: (
        WarpError,
        "WARP is not connected",
        "run `warp-cli connect` or `ztctl login`",
    ),
    WarpErrorKind.NOT_AUTHORIZED: (
        WarpError,
        "the WARP client refused `warp-cli {cmd}`: not authorized by the device profile",
        "ask the Zero Trust administrators to allow this change (e.g. mode switching)",
    ),
}
