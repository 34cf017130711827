"""`ztctl login --api-token` and `ztctl logout --api-token`: the Cloudflare API token.

The token is read from stdin (a hidden prompt on a TTY), verified (account-owned first, then
user-owned), probed for the permission groups the server-side checks need, and kept in the
keyring item ``cloudflare-api-token``. It is never echoed, logged or passed to a child.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.output import emit

if TYPE_CHECKING:
    from ztctl.cli.app import App

MAX_INPUT = 4096


def read_token(app: App) -> str:
    from ztctl.core.cloudflare import clean_token
    from ztctl.errors import UsageError

    if sys.stdin.isatty():
        if app.no_input:
            raise UsageError(
                "--no-input forbids the prompt for the API token",
                "pipe the token on stdin: `pass show cf-token | ztctl login --api-token`",
            )
        raw = click.prompt(
            "Cloudflare API token (read-only; input hidden)",
            hide_input=True,
            err=True,
            prompt_suffix=": ",
        )
    else:
        from ztctl.errors import InvalidInput

        stream = getattr(sys.stdin, "buffer", None)
        data = stream.read(MAX_INPUT + 1) if stream is not None else sys.stdin.read(MAX_INPUT + 1)
        if len(data) > MAX_INPUT:
            raise InvalidInput(
                "the input on stdin is too long to be an API token",
                "pipe only the token itself",
            )
        if isinstance(data, bytes):
            try:
                raw = data.decode("utf-8-sig")  # a leading byte order mark is dropped
            except UnicodeDecodeError:
                raise InvalidInput(
                    "the input on stdin is not valid UTF-8, so it is not an API token",
                    "pipe only the token itself, as the dashboard shows it",
                ) from None
        else:
            raw = data
    return clean_token(str(raw))


def _refuse_unverified(result: Any, account_id: str) -> None:
    """A token that did not verify is never stored: say why, with the fix."""
    from ztctl.adapters.cloudflare import ApiErrorKind
    from ztctl.errors import AuthNeeded, OperationFailed

    error = result.error
    if error is not None:
        if error.transient:
            raise OperationFailed(
                f"could not verify the token: {error.message}; it was not stored", error.fix
            )
        if error.kind is ApiErrorKind.ACCOUNT:
            raise AuthNeeded(
                f"the token cannot read account {account_id}: {error.message}", error.fix
            )
        raise AuthNeeded(f"{error.message}; it was not stored", error.fix)
    if not result.ok:
        raise AuthNeeded(
            f"the token is {result.status}; it was not stored",
            "create a new read-only token and run `ztctl login --api-token` again",
        )


def login_api_token(app: App, timeout: float = 10.0) -> None:
    from ztctl.adapters.keyring import set_secret
    from ztctl.core.cloudflare import (
        ACCOUNT_FIX,
        KEYRING_ITEM,
        TOKEN_ENV,
        api_settings,
        deadline_in,
        describe_access,
        make_api,
        verify,
    )
    from ztctl.errors import InvalidInput

    settings = api_settings(app.config)
    if settings is None:
        raise InvalidInput("cloudflare.account_id is not set", ACCOUNT_FIX)
    token = read_token(app)
    api = make_api(settings, token, app.env, timeout=timeout)
    try:
        result = verify(api, deadline_in(timeout))
    finally:
        api.close()
    _refuse_unverified(result, settings.account_id)
    set_secret(KEYRING_ITEM, token)
    from ztctl.core import audit

    audit.record(
        app.state_dir,
        "login",
        apiToken=True,
        keyringItem=KEYRING_ITEM,
        accountId=settings.account_id,
        ownership=result.ownership,
    )
    access = describe_access(result)
    payload: dict[str, Any] = {
        "stored": True,
        "keyringItem": KEYRING_ITEM,
        "accountId": settings.account_id,
        "token": result.to_dict(),
        "checks": {line.split(":", 1)[0]: line.split(":", 1)[1].strip() for line in access},
    }
    if app.env.get(TOKEN_ENV):
        app.warn(f"{TOKEN_ENV} is set and takes precedence over the stored token")

    def text() -> None:
        owner = f"{result.ownership}-owned"
        expiry = f", expires {result.expires_on}" if result.expires_on else ""
        lines = [
            f"Verified the Cloudflare API token ({owner}, {result.status}{expiry}) for account "
            f"{settings.account_id} and stored it in the keyring ({KEYRING_ITEM}).",
            "The server-side checks of `ztctl doctor` and `ztctl catalog check` will see:",
            *(f"  {line}" for line in access),
        ]
        if result.missing:
            lines.append(
                "To see everything, add "
                + " and ".join(p.value for p in result.missing)
                + " to the token (`ztctl doctor --help` lists what each check needs)."
            )
        click.echo("\n".join(lines))

    emit(app, payload, text)


def logout_api_token() -> bool:
    """Remove the stored token; whether there was one."""
    from ztctl.adapters.keyring import delete_secret
    from ztctl.core.cloudflare import KEYRING_ITEM

    return delete_secret(KEYRING_ITEM)
