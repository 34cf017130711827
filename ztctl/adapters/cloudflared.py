"""Cloudflare Access tokens through ``cloudflared`` (docs/login.md).

* :func:`cached_token` runs ``cloudflared access token -app=URL``: the app token cloudflared
  holds, with no browser and no prompt; ``None`` when it has none ("Unable to find token for
  provided application...").
* :func:`browser_login` runs ``cloudflared access login --no-verbose --auto-close URL``: it
  reuses a cached or org token when it can, else opens the browser (its message goes to our
  stderr, where the user sees the URL) and waits for the person to log in; only the JWT comes
  back on stdout.

Every run has a timeout and is killed with its process group when it expires. Nothing here
prints; tokens never appear in an error message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from ztctl.adapters.procs import OutputTooLarge, run_capped
from ztctl.errors import AuthNeeded, OperationFailed

TOKEN_TIMEOUT_S = 15.0
LOGIN_TIMEOUT_S = 180.0  # a person logs in in the browser meanwhile (kubelogin uses 180 s too)

_MISSING = "unable to find token"


class CloudflaredError(OperationFailed):
    """cloudflared is missing, failed or timed out."""


class CloudflaredLoginNeeded(AuthNeeded):
    """A person must log in in a browser."""


@dataclass(frozen=True)
class Cloudflared:
    path: str = "cloudflared"
    env: Mapping[str, str] | None = None

    def executable(self) -> str:
        found = shutil.which(self.path) if os.sep not in self.path else self.path
        if not found or not os.access(found, os.X_OK):
            raise CloudflaredError(
                f"cloudflared was not found (looked for `{self.path}`)",
                "install cloudflared (https://developers.cloudflare.com/cloudflare-one/"
                "connections/connect-networks/downloads/), or point ztctl at it with "
                "`access.cloudflared` in the config file or ZTCTL_CLOUDFLARED",
            )
        return found

    def _run(
        self, args: list[str], *, timeout: float, stderr_to_user: bool, no_browser: bool = False
    ) -> tuple[int, str, str]:
        env = dict(os.environ if self.env is None else self.env)
        if no_browser:
            env["BROWSER"] = "true"  # xdg-open honours $BROWSER: open nothing, print the URL
        try:
            done = run_capped(
                [self.executable(), *args],
                timeout=timeout,
                env=env,
                capture_stderr=not stderr_to_user,
            )
        except OSError as exc:
            raise CloudflaredError(
                f"cloudflared at {self.path} could not be started: {exc.strerror or exc}",
                "reinstall cloudflared",
            ) from exc
        except OutputTooLarge as exc:
            raise CloudflaredError(
                f"`cloudflared {' '.join(args[:2])}` printed more "
                f"than {exc.limit // 1024} KiB on {exc.stream}: that is not cloudflared's "
                "answer (stopped it)",
                "check that `access.cloudflared` in the config file (or ZTCTL_CLOUDFLARED) "
                "names cloudflared, or reinstall it",
            ) from None
        return done.returncode, done.out, done.err

    def cached_token(self, app: str, *, timeout: float = TOKEN_TIMEOUT_S) -> str | None:
        """The app token cloudflared already holds for ``app``, or ``None``."""
        try:
            code, out, err = self._run(
                ["access", "token", f"-app={app}"], timeout=timeout, stderr_to_user=False
            )
        except subprocess.TimeoutExpired:
            raise CloudflaredError(
                f"`cloudflared access token -app={app}` did not answer within {timeout:g} s",
                "run it by hand to see what it waits for, then retry",
            ) from None
        token = out.strip()
        if code == 0 and token:
            return token
        if _MISSING in err.lower() or _MISSING in out.lower():
            return None
        detail = (err.strip() or out.strip() or "no output").splitlines()[-1][:200]
        raise CloudflaredError(
            f"`cloudflared access token -app={app}` failed with exit code {code}: {detail}",
            f"run `cloudflared access token -app={app}` by hand to see the full output",
        )

    def browser_login(
        self, app: str, *, timeout: float = LOGIN_TIMEOUT_S, no_browser: bool = False
    ) -> str:
        """Log in to ``app`` (browser flow, its messages on our stderr); the app token."""
        try:
            code, out, _err = self._run(
                ["access", "login", "--no-verbose", "--auto-close", app],
                timeout=timeout,
                stderr_to_user=True,
                no_browser=no_browser,
            )
        except subprocess.TimeoutExpired:
            raise CloudflaredLoginNeeded(
                f"nobody finished the Access login for {app} within {timeout:g} s",
                "run `ztctl login` again and complete the login in the browser window",
            ) from None
        token = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if code != 0 or not token:
            raise CloudflaredLoginNeeded(
                f"`cloudflared access login {app}` failed with exit code {code}",
                "read cloudflared's message above, then run `ztctl login` again",
            )
        return token
