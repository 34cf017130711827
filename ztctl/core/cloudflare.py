"""The Cloudflare API token and account for the server-side checks (docs/configuration.md).

Where the token comes from (``ZTCTL_CF_API_TOKEN`` first, for CI; else the keyring item
``cloudflare-api-token``), how it is verified (the account-owned endpoint first, then the
user-owned one; "invalid" only when both refuse it), and which permission groups it holds
(one cheap call per group). Nothing here prints; the token never leaves this module except
inside the ``Authorization`` header of :class:`~ztctl.adapters.cloudflare.CloudflareApi`.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ztctl.adapters.cloudflare import token_problem
from ztctl.errors import AuthNeeded, InvalidInput

if TYPE_CHECKING:
    from ztctl.adapters.cloudflare import ApiError, CloudflareApi, Permission
    from ztctl.core.config import Config

TOKEN_ENV = "ZTCTL_CF_API_TOKEN"  # noqa: S105 - a variable name, not a secret
KEYRING_ITEM = "cloudflare-api-token"

# Where an installed user reads which permissions the token needs (no repository path).
PERMISSIONS_DOC = "`ztctl doctor --help` lists the permissions"
ADD_TOKEN_FIX = (
    f"create a read-only API token ({PERMISSIONS_DOC}) and run "
    "`ztctl login --api-token`, or set ZTCTL_CF_API_TOKEN (CI)"
)
# A Cloudflare API token is an OAuth bearer token (RFC 6750 b64token): visible ASCII, no
# whitespace. Anything else cannot go into an HTTP header as it is.
BOM = "\ufeff"
ACCOUNT_FIX = (
    "set the account: `ztctl config set cloudflare.account_id ID` (32 hex characters, in the "
    "dashboard URL) or ZTCTL_CF_ACCOUNT_ID"
)


@dataclass(frozen=True)
class TokenSource:
    token: str = field(repr=False)
    source: str  # "env" | "keyring"
    problem: str | None = None  # why the token cannot be used (it is not a bearer token)

    @property
    def where(self) -> str:
        return TOKEN_ENV if self.source == "env" else f"the keyring ({KEYRING_ITEM})"

    @property
    def malformed(self) -> str:
        """The message for a malformed token (never quoting it)."""
        return f"the Cloudflare API token from {self.where} is malformed ({self.problem})"

    @property
    def malformed_fix(self) -> str:
        if self.source == "env":
            return (
                f"set {TOKEN_ENV} to the token alone, as the dashboard shows it (letters, "
                "digits and . _ ~ + / - = only, no spaces or line breaks)"
            )
        return "store the token again: `pass show cf-token | ztctl login --api-token`"


def resolve_token(env: Mapping[str, str]) -> TokenSource | None:
    """The token to use, or ``None``. A keyring that cannot be read counts as no token (the
    local checks must still run); ``--server`` then says why. A token that is not a bearer
    token is returned with its :attr:`TokenSource.problem` set: it must never be sent."""
    value = (env.get(TOKEN_ENV) or "").strip()
    if value:
        return TokenSource(value, "env", token_problem(value))
    from ztctl.adapters.keyring import get_secret

    try:
        stored = get_secret(KEYRING_ITEM)
    except AuthNeeded:
        return None
    stored = (stored or "").strip()
    return TokenSource(stored, "keyring", token_problem(stored)) if stored else None


def clean_token(raw: str) -> str:
    """The token as typed or piped, or :class:`InvalidInput` naming what is wrong (never
    echoing it)."""
    token = raw.removeprefix(BOM).strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token:
        raise InvalidInput("no API token was given", "pipe it on stdin: `ztctl login --api-token`")
    problem = token_problem(token)
    if problem is not None:
        raise InvalidInput(
            f"that is not a Cloudflare API token ({problem})",
            "give only the token itself, as the dashboard shows it, e.g. "
            "`pass show cf-token | ztctl login --api-token`",
        )
    return token


@dataclass(frozen=True)
class ApiSettings:
    account_id: str
    api_url: str


def api_settings(config: Config) -> ApiSettings | None:
    """The account and API URL, or ``None`` without an account id. A malformed value is an
    :class:`InvalidInput` (exit 3)."""
    from ztctl.adapters.cloudflare import check_account_id, check_api_url

    api_url = check_api_url(config.cloudflare.api_url)
    if not config.cloudflare.account_id:
        return None
    return ApiSettings(check_account_id(config.cloudflare.account_id), api_url)


def make_api(
    settings: ApiSettings, token: str, env: Mapping[str, str], *, timeout: float
) -> CloudflareApi:
    from ztctl.adapters.cloudflare import CloudflareApi

    return CloudflareApi(settings.api_url, settings.account_id, token, timeout=timeout, env=env)


# -- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What the API said about the token."""

    ok: bool  # the token verifies and is active
    ownership: str | None = None  # "account" | "user"
    status: str | None = None  # active | disabled | expired
    expires_on: str | None = None
    error: ApiError | None = None  # why it did not verify (or the API could not say)
    # Permission -> None (holds it), or the ApiError its probe met.
    probes: Mapping[Permission, ApiError | None] = field(default_factory=dict)
    # Results of the probe calls worth keeping (their endpoints are useful anyway).
    virtual_networks: tuple[Mapping[str, Any], ...] | None = None
    device_settings: Mapping[str, Any] | None = None

    def lacks(self, permission: Permission) -> bool:
        from ztctl.adapters.cloudflare import ApiErrorKind

        error = self.probes.get(permission)
        return error is not None and error.kind is ApiErrorKind.PERMISSION

    @property
    def missing(self) -> list[Permission]:
        return [p for p in self.probes if self.lacks(p)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verified": self.ok,
            "ownership": self.ownership,
            "status": self.status,
            "expiresOn": self.expires_on,
            "error": self.error.to_dict() if self.error else None,
            "permissions": {
                p.name.lower().replace("_", "-"): ("ok" if e is None else e.kind.value)
                for p, e in self.probes.items()
            },
        }


def verify(api: CloudflareApi, deadline: float) -> Verification:
    """Verify the token and probe each permission group, all at once (one round trip,
    two when the token turns out to be user-owned)."""
    from ztctl.adapters.cloudflare import ApiError, ApiErrorKind, Permission

    probes: dict[Permission, tuple[str, dict[str, Any]]] = {
        Permission.NETWORKS: ("teamnet/virtual_networks", {"is_deleted": "false"}),
        Permission.TUNNELS: ("cfd_tunnel", {"per_page": 1, "is_deleted": "false"}),
        Permission.ZERO_TRUST: ("devices/settings", {}),
    }
    with concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ztctl-cf") as pool:
        account = pool.submit(_get, api, api.account_path("tokens/verify"), {}, deadline, None)
        futures = {
            p: pool.submit(_get, api, api.account_path(path), params, deadline, p)
            for p, (path, params) in probes.items()
        }
        ownership = "account"
        first = account.result()
        if isinstance(first, ApiError) and first.kind in (
            ApiErrorKind.INVALID_TOKEN,
            ApiErrorKind.ACCOUNT,
            ApiErrorKind.PERMISSION,
        ):
            second = _get(api, "/user/tokens/verify", {}, deadline, None)
            if not isinstance(second, ApiError):
                first, ownership = second, "user"
            elif first.kind is ApiErrorKind.PERMISSION:
                first = second
        results = {p: f.result() for p, f in futures.items()}
    if isinstance(first, ApiError):
        return Verification(ok=False, error=first, probes=_errors(results))
    result = first.result if isinstance(first.result, dict) else {}
    status = str(result.get("status") or "active")
    account_error = next(
        (e for e in results.values() if isinstance(e, ApiError) and e.kind is ApiErrorKind.ACCOUNT),
        None,
    )
    vnets = results.get(Permission.NETWORKS)
    settings = results.get(Permission.ZERO_TRUST)
    return Verification(
        ok=status == "active" and account_error is None,
        ownership=ownership,
        status=status,
        expires_on=str(result["expires_on"]) if result.get("expires_on") else None,
        error=account_error,
        probes=_errors(results),
        virtual_networks=tuple(v for v in vnets.result if isinstance(v, dict))
        if vnets is not None and not isinstance(vnets, ApiError) and isinstance(vnets.result, list)
        else None,
        device_settings=settings.result
        if settings is not None
        and not isinstance(settings, ApiError)
        and isinstance(settings.result, dict)
        else None,
    )


def _errors(results: Mapping[Permission, Any]) -> dict[Permission, ApiError | None]:
    from ztctl.adapters.cloudflare import ApiError

    return {p: (r if isinstance(r, ApiError) else None) for p, r in results.items()}


def _get(
    api: CloudflareApi,
    path: str,
    params: Mapping[str, Any],
    deadline: float,
    permission: Permission | None,
) -> Any:
    from ztctl.adapters.cloudflare import ApiError

    try:
        return api.get(path, params, deadline=deadline, permission=permission)
    except ApiError as exc:
        return exc


# What each check needs, for messages ("cf.tunnel needs …").
def needs() -> dict[str, Permission]:
    from ztctl.adapters.cloudflare import Permission

    return {
        "cf.device": Permission.ZERO_TRUST,
        "cf.gateway": Permission.ZERO_TRUST,
        "cf.route": Permission.NETWORKS,
        "cf.tunnel": Permission.TUNNELS,
        "cf.split-tunnel": Permission.ZERO_TRUST,
        "cf.inspection": Permission.ZERO_TRUST,
    }


def describe_access(verification: Verification) -> list[str]:
    """For `login --api-token`: one line per check, what it will be able to see."""
    lines = []
    for check_id, permission in needs().items():
        if verification.lacks(permission):
            lines.append(f"{check_id}: skipped (the token lacks {permission.value})")
        else:
            lines.append(f"{check_id}: yes")
    return lines


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds
