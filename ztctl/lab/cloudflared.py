"""The lab's stand-in ``cloudflared``: ``python -m ztctl.lab.cloudflared --lab-dir DIR ARGS``.

Only the Access token commands ztctl uses:

* ``access login [--quiet|-q] [--no-verbose] [--auto-close] [--app=URL] URL`` — reuses a valid
  cached app token; else exchanges a valid org token silently; else runs the "browser" flow:
  prints the browser message of ``token/transfer.go`` on stderr and, since the lab plays the
  user completing the login (``access.login == "auto"``), writes an org token and an app
  token at once. With ``access.login == "blocked"`` nobody ever logs in: it waits until
  killed, like the real one polling the transfer service. Prints
  ``Successfully fetched your token:\\n\\n<JWT>\\n\\n`` (only the JWT with ``--no-verbose`` or
  ``--app``; nothing with ``--quiet``).
* ``access token -app=URL`` / ``--app=URL`` / ``--app URL`` / ``URL`` — prints the cached JWT
  with no newline; if there is no valid cached token (expired ones are deleted on read, as
  are tokens whose ``aud`` lacks the app's AUD), prints
  ``Unable to find token for provided application. Please run login command to generate
  token.`` on stderr and exits 1. Never opens a "browser".
* ``--version`` / ``version``.

Tokens live in ``DIR/cloudflared/`` (0700), named like ``~/.cloudflared``:
``<app-host>-<AUD>-token`` and ``<team>.cloudflareaccess.com-org-token``, each 0600.

``access token`` (run by ``ztctl credential`` on a refresh) imports no ``cryptography``;
only minting a token in ``access login`` does.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import time
import urllib.parse
from pathlib import Path

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.adapters.jwt import JwtDecodeError, access_claims
from ztctl.lab import jwt as labjwt
from ztctl.lab import state as labstate
from ztctl.lab.jwt import app_aud, app_hostname

VERSION = "cloudflared version 2026.8.2 (built 2026-08-20-0000 UTC)"
CACHE_DIR = "cloudflared"
MISSING_MESSAGE = (
    "Unable to find token for provided application. Please run login command to generate token."
)
BROWSER_OPENED = (
    "A browser window should have opened at the following URL:\n\n{url}\n\n"
    "If the browser failed to open, please visit the URL above directly in your browser.\n"
)
NO_URL = "Please provide the url of the Access application\n"


def token_dir(lab_dir: Path) -> Path:
    return lab_dir / CACHE_DIR


def _safe(name: str) -> str:
    return name.replace("/", "-").replace("*", "-")


def app_token_path(lab_dir: Path, app_url: str) -> Path:
    """``<dir>/<appHostname>-<appAUD>-token`` (cloudflared ≥ 2021.3.0)."""
    return token_dir(lab_dir) / _safe(f"{app_hostname(app_url)}-{app_aud(app_url)}-token")


def _team(lab_dir: Path) -> str:
    return labstate.load(lab_dir).team


def org_token_path(lab_dir: Path) -> Path:
    return token_dir(lab_dir) / _safe(f"{_team(lab_dir)}.cloudflareaccess.com-org-token")


def read_valid_token(path: Path, *, aud: str | None, now: float) -> str | None:
    """The cached token at ``path`` if unexpired (and for ``aud``); stale ones are deleted."""
    try:
        token = path.read_text("ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    try:
        claims = access_claims(token)
    except JwtDecodeError:
        claims = None
    if claims is None or not claims.fits(aud, now):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return None
    return token


def _write_token(path: Path, token: str) -> None:
    ensure_private_dir(path.parent)
    atomic_write(path, token.encode("ascii"), mode=0o600)


def _login_url(app_url: str, aud: str) -> str:
    host = app_hostname(app_url)
    query = urllib.parse.urlencode(
        {
            "token": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
            "aud": aud,
            "redirect_url": app_url,
            "send_org_token": "true",
            "edge_token_transfer": "true",
        }
    )
    return f"https://{host}/cdn-cgi/access/cli?{query}"


def _parse(args: list[str], flags: set[str], valued: set[str]) -> tuple[dict[str, str], list[str]]:
    """urfave/cli-style flags: ``-name``, ``--name``, ``--name=value``, ``--name value``."""
    found: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.lstrip("-").partition("=")
            if name in valued:
                if not eq:
                    if i >= len(args):
                        raise SystemExit(_usage_error(f"flag needs an argument: -{name}"))
                    value = args[i]
                    i += 1
                found[name] = value
            elif name in flags:
                found[name] = "true"
            else:
                raise SystemExit(_usage_error(f"flag provided but not defined: -{name}"))
        else:
            positional.append(arg)
    return found, positional


def _usage_error(message: str) -> int:
    sys.stderr.write(f"Incorrect Usage: {message}\n")
    return 2


def cmd_token(lab_dir: Path, args: list[str]) -> int:
    flags, positional = _parse(args, set(), {"app"})
    app_url = flags.get("app") or (positional[0] if positional else None)
    if not app_url:
        sys.stderr.write(NO_URL)
        return 1
    token = read_valid_token(
        app_token_path(lab_dir, app_url), aud=app_aud(app_url), now=time.time()
    )
    if token is None:
        sys.stderr.write(MISSING_MESSAGE + "\n")
        return 1
    sys.stdout.write(token)
    return 0


def cmd_login(lab_dir: Path, args: list[str]) -> int:
    flags, positional = _parse(
        args, {"quiet", "q", "no-verbose", "auto-close"}, {"app", "loglevel", "logfile"}
    )
    app_url = positional[0] if positional else flags.get("app")
    if not app_url:
        sys.stderr.write(NO_URL)
        return 1
    now = time.time()
    aud = app_aud(app_url)
    app_path = app_token_path(lab_dir, app_url)
    token = read_valid_token(app_path, aud=aud, now=now)
    if token is None:
        token = _fetch(lab_dir, app_url, aud, now)
        _write_token(app_path, token)
    if "quiet" in flags or "q" in flags:
        return 0
    if "no-verbose" in flags or "app" in flags:
        sys.stdout.write(token)
    else:
        sys.stdout.write(f"Successfully fetched your token:\n\n{token}\n\n")
    return 0


def _fetch(lab_dir: Path, app_url: str, aud: str, now: float) -> str:
    org_path = org_token_path(lab_dir)
    if read_valid_token(org_path, aud=None, now=now) is None:
        # The transfer flow: a person logs in in the browser.
        sys.stderr.write(BROWSER_OPENED.format(url=_login_url(app_url, aud)))
        sys.stderr.flush()
        if labstate.load(lab_dir).access.login != "auto":
            while True:  # nobody completes the login; the caller's timeout ends us
                time.sleep(3600)
        _write_token(org_path, labjwt.issue_token(lab_dir, None, kind="org", now=now))
    return labjwt.issue_token(lab_dir, app_url, now=now)


def main(argv: list[str] | None = None) -> int:
    lab_dir, args = labstate.split_lab_dir(
        list(sys.argv[1:] if argv is None else argv), "cloudflared"
    )
    if not args or args[0] in ("-v", "--version", "-V", "version"):
        if not args:
            sys.stderr.write("Incorrect Usage: a command is required (try `access login`)\n")
            return 2
        sys.stdout.write(VERSION + "\n")
        return 0
    if args[0] not in ("access", "forward"):
        return _usage_error(f"unsupported command in the lab: {args[0]}")
    if len(args) < 2:
        return _usage_error("access needs a subcommand: login or token")
    sub, rest = args[1], args[2:]
    try:
        if sub == "login":
            return cmd_login(lab_dir, rest)
        if sub == "token":
            return cmd_token(lab_dir, rest)
    except SystemExit as exc:
        return int(exc.code or 0)
    return _usage_error(f"unsupported access subcommand in the lab: {sub}")


if __name__ == "__main__":
    sys.exit(main())
