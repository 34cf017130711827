"""The Cloudflare API v4 client for the server-side checks (read-only, on httpx).

What it knows about the API:

- Every answer is the v4 envelope ``{"success", "errors", "messages", "result",
  "result_info"}``. A 200 with ``success: false`` is an error like any other; ``messages`` may
  be objects or plain strings, and are ignored.
- Two pagination styles: page/per_page (``result_info.count/page/per_page/total_count``; stop
  when a page is short or ``total_count`` is reached — the server may cap ``per_page``) and
  cursor (stop when ``result_info.cursor`` is empty).
- Error codes worth telling apart: 1000 (token unknown, revoked or expired — or an
  account-owned token sent to ``/user/tokens/verify``), 6003/6111 (malformed Authorization
  header), 10000 (a valid token without the permission for this endpoint), 7003 and 9109 (the
  account id is wrong, or the token belongs to another account). Any other ``success: false``
  on a 2xx or 5xx answer, or with another 1xxxx code (10001 "service temporarily
  unavailable", internal errors), is the API's own trouble: :attr:`ApiErrorKind.SERVER`.
- 429 (with ``Retry-After``) and 5xx are retried with exponential backoff and full jitter, but
  only while the caller's deadline allows; a ``Retry-After`` that does not fit ends the call.

Every call has a timeout (the smaller of the per-call timeout and what is left of the
deadline) and every body read is bounded. TLS trusts the OS trust store (``truststore``), so
a Gateway root certificate installed on the laptop is trusted here as by the rest of the OS;
``api_url`` may be plain http only for a loopback host (the lab and tests). The token goes in
the ``Authorization`` header only: it is never in a URL, an error message or the transcript.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import random
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ztctl.errors import InvalidInput

if TYPE_CHECKING:
    import httpx

DEFAULT_API_URL = "https://api.cloudflare.com/client/v4"
MAX_BODY = 8 * 1024 * 1024  # bytes of one answer
MAX_PAGES = 100  # of one listing
MAX_CONCURRENCY = 16  # requests in flight per client
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524, 525, 526, 527})
BACKOFF_BASE_S = 0.2
BACKOFF_CAP_S = 4.0
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class Permission(enum.Enum):
    """The permission groups the checks need, by what they cover (docs/server-checks.md)."""

    NETWORKS = "Cloudflare Tunnel Read (or Cloudflare One Networks Read)"  # routes, vnets
    TUNNELS = "Cloudflare Tunnel Read (or Cloudflare One Connector: cloudflared Read)"
    ZERO_TRUST = "Zero Trust Read"  # devices, profiles, device settings, Gateway


class ApiErrorKind(enum.Enum):
    INVALID_TOKEN = "invalid-token"  # noqa: S105 - a kind, not a secret
    BAD_HEADER = "bad-header"
    PERMISSION = "permission"
    ACCOUNT = "account"
    NOT_FOUND = "not-found"
    RATE_LIMITED = "rate-limited"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    SERVER = "server-error"
    MALFORMED = "malformed"
    REFUSED = "refused"  # success: false with a code we do not know


# Kinds that say nothing about the account's configuration: the API could not answer now.
TRANSIENT = frozenset(
    {
        ApiErrorKind.RATE_LIMITED,
        ApiErrorKind.UNREACHABLE,
        ApiErrorKind.TIMEOUT,
        ApiErrorKind.SERVER,
        ApiErrorKind.MALFORMED,
    }
)

TOKEN_PAGE = (
    "in the Cloudflare dashboard (Manage Account > Account API Tokens, or My Profile > API "  # noqa: S105 - text, not a secret
    "Tokens for a user token), edit the token"
)


def fix_for(kind: ApiErrorKind, *, permission: Permission | None = None) -> str:
    """The one sentence that says what to do about an API error (one table, tested alone)."""
    match kind:
        case ApiErrorKind.INVALID_TOKEN:
            return (
                "the token is unknown, revoked or expired: create a read-only token "
                "(`ztctl doctor --help` lists the permissions) and run `ztctl login --api-token` "
                "(or set ZTCTL_CF_API_TOKEN)"
            )
        case ApiErrorKind.BAD_HEADER:
            return (
                "the token is not in a usable form (a pasted command, a `Bearer ` prefix or "
                "stray characters): give only the token itself to `ztctl login --api-token`"
            )
        case ApiErrorKind.PERMISSION:
            name = permission.value if permission else "the permission this check needs"
            return f"the token lacks {name}: {TOKEN_PAGE} and add it"
        case ApiErrorKind.ACCOUNT:
            return (
                "check cloudflare.account_id (32 hex characters, shown in the dashboard URL; "
                "`ztctl config set cloudflare.account_id ID` or ZTCTL_CF_ACCOUNT_ID) and that "
                "the token was created for that account"
            )
        case ApiErrorKind.NOT_FOUND:
            return "check cloudflare.api_url: the API has no such endpoint there"
        case ApiErrorKind.RATE_LIMITED:
            return (
                "the account's API rate limit is used up (1200 requests per 5 minutes, shared "
                "by everyone using it): run the command again later"
            )
        case ApiErrorKind.UNREACHABLE | ApiErrorKind.TIMEOUT:
            return (
                "check this machine's connection to the Cloudflare API (and cloudflare.api_url); "
                "the local checks do not depend on it"
            )
        case ApiErrorKind.SERVER | ApiErrorKind.MALFORMED:
            return "the Cloudflare API had a problem: run the command again in a minute"
        case ApiErrorKind.REFUSED:
            return "see the API's message; `ztctl doctor --help` lists what each check needs"
    return ""  # pragma: no cover - every kind is matched above


class ApiError(Exception):
    """A call that did not produce a result. ``message`` never contains the token."""

    def __init__(
        self,
        kind: ApiErrorKind,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
        permission: Permission | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.permission = permission

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT

    @property
    def fix(self) -> str:
        return fix_for(self.kind, permission=self.permission)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "status": self.status,
            "code": self.code,
        }


@dataclass(frozen=True)
class Envelope:
    result: Any
    result_info: Mapping[str, Any]
    status: int


@dataclass(frozen=True)
class Call:
    """One request as the transcript records it (no token, no body)."""

    path: str
    params: tuple[tuple[str, str], ...]
    status: int | None
    attempts: int
    ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "params": dict(self.params),
            "status": self.status,
            "attempts": self.attempts,
            "ms": round(self.ms, 1),
            "error": self.error,
        }


def check_api_url(url: str) -> str:
    """``url`` without a trailing slash, or :class:`InvalidInput` (exit 3).

    https anywhere; plain http only for a loopback host (the lab, tests)."""
    parts = urlsplit(url.strip())
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.strip().rstrip("/")
    if parts.scheme == "http" and host and _is_loopback(host):
        return url.strip().rstrip("/")
    raise InvalidInput(
        f"cloudflare.api_url {url!r} is not an https URL",
        f"use {DEFAULT_API_URL} (plain http is accepted only for a loopback host such as the "
        "lab's)",
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_account_id(account_id: str) -> str:
    value = account_id.strip().lower()
    if len(value) == 32 and all(c in "0123456789abcdef" for c in value):
        return value
    raise InvalidInput(
        f"cloudflare.account_id {account_id!r} is not an account id (32 hex characters)",
        "copy it from the dashboard URL (dash…/<account id>/…) and run "
        "`ztctl config set cloudflare.account_id ID` (or set ZTCTL_CF_ACCOUNT_ID)",
    )


@dataclass
class CloudflareApi:
    """A read-only client for one account. Thread-safe: checks share one instance."""

    base_url: str
    account_id: str
    token: str = field(repr=False)
    timeout: float = 10.0  # seconds per request
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    transcript: list[Call] = field(default_factory=list)
    _client: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(MAX_CONCURRENCY), repr=False
    )

    def __post_init__(self) -> None:
        self.base_url = check_api_url(self.base_url)

    # -- plumbing ----------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                import httpx

                from ztctl.adapters import http

                # Plain http is only ever loopback (check_api_url): no TLS, so no context
                # (building httpx's default one would load a CA bundle for nothing).
                verify: Any = False
                if self.base_url.startswith("https://"):
                    verify = http.trust_context(self.env)
                self._client = http.client(
                    timeout=self.timeout,
                    verify=verify,
                    limits=httpx.Limits(
                        max_connections=MAX_CONCURRENCY, max_keepalive_connections=MAX_CONCURRENCY
                    ),
                )
            client: httpx.Client = self._client
            return client

    def warm(self) -> None:
        """Build the HTTP client ahead of the first call."""
        self._http()

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def account_path(self, suffix: str) -> str:
        return f"/accounts/{self.account_id}/{suffix.lstrip('/')}"

    # -- calls -------------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        deadline: float | None = None,
        permission: Permission | None = None,
    ) -> Envelope:
        """GET ``path`` (relative to the API root); ``deadline`` is a ``time.monotonic()``."""
        query = tuple((str(k), str(v)) for k, v in (params or {}).items())
        began = time.monotonic()
        limit = deadline if deadline is not None else began + self.timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = limit - time.monotonic()
            try:
                if remaining <= 0.01:
                    raise ApiError(
                        ApiErrorKind.TIMEOUT, f"the Cloudflare API did not answer {path} in time"
                    )
                status, document = self._attempt(path, query, min(self.timeout, remaining))
                envelope = _checked(document, status, path, permission)
            except ApiError as exc:
                delay = _retry_delay(exc, attempt)
                if delay is None or time.monotonic() + delay >= limit:
                    self._record(path, query, exc.status, attempt, began, exc.kind.value)
                    raise
                time.sleep(delay)
                continue
            self._record(path, query, status, attempt, began, None)
            return envelope

    def _attempt(
        self, path: str, query: tuple[tuple[str, str], ...], timeout: float
    ) -> tuple[int, Any]:
        import httpx

        problem = token_problem(self.token)
        if problem is not None:
            # Never hand httpx a header it would refuse: its error quotes the header value.
            raise ApiError(
                ApiErrorKind.BAD_HEADER,
                f"the Cloudflare API token is malformed ({problem}); it was not sent",
            )
        url = self.base_url + path
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        with self._slots:
            try:
                with self._http().stream(
                    "GET", url, params=query, headers=headers, timeout=httpx.Timeout(timeout)
                ) as response:
                    status = response.status_code
                    body = _read_bounded(response, MAX_BODY)
                    retry_after = _retry_after(response.headers.get("retry-after"))
            except httpx.TimeoutException:
                raise ApiError(
                    ApiErrorKind.TIMEOUT,
                    f"the Cloudflare API did not answer {path} within {timeout:.1f}s",
                ) from None
            except (httpx.LocalProtocolError, UnicodeError, ValueError):
                # The request could not be built or sent as asked; these errors quote the
                # request (headers included), so their text is never used.
                raise ApiError(
                    ApiErrorKind.BAD_HEADER,
                    "ztctl could not send the request to the Cloudflare API (the Authorization "
                    "header is not valid)",
                ) from None
            except httpx.HTTPError as exc:
                reason = scrub((str(exc) or type(exc).__name__).splitlines()[0], self.token)
                raise ApiError(
                    ApiErrorKind.UNREACHABLE, f"cannot reach the Cloudflare API: {reason}"
                ) from None
        document = _decode(body, status, path)
        if status == 429:
            raise ApiError(
                ApiErrorKind.RATE_LIMITED,
                "the Cloudflare API is rate-limiting this account"
                + (
                    f" (it asks to retry after {retry_after:g}s)" if retry_after is not None else ""
                ),
                status=status,
                retry_after=retry_after,
            )
        if status >= 500:
            detail = _first_message(document)
            raise ApiError(
                ApiErrorKind.SERVER,
                f"the Cloudflare API answered HTTP {status} for {path}"
                + (f": {detail}" if detail else ""),
                status=status,
            )
        return status, document

    def _record(
        self,
        path: str,
        query: tuple[tuple[str, str], ...],
        status: int | None,
        attempts: int,
        began: float,
        error: str | None,
    ) -> None:
        call = Call(path, query, status, attempts, (time.monotonic() - began) * 1000.0, error)
        with self._lock:
            self.transcript.append(call)

    def list_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int = 1000,
        deadline: float | None = None,
        permission: Permission | None = None,
    ) -> list[Any]:
        """Every item of a page/per_page listing."""
        items: list[Any] = []
        page = 1
        while True:
            envelope = self.get(
                path,
                {**(params or {}), "page": page, "per_page": per_page},
                deadline=deadline,
                permission=permission,
            )
            result = envelope.result
            if not isinstance(result, list):
                raise ApiError(
                    ApiErrorKind.MALFORMED,
                    f"the Cloudflare API's {path} result is not a list",
                    status=envelope.status,
                )
            items.extend(result)
            info = envelope.result_info
            served = _int(info.get("per_page")) or per_page
            count = _int(info.get("count"))
            count = len(result) if count is None else count
            total = _int(info.get("total_count"))
            if not result or count < served or (total is not None and len(items) >= total):
                return items
            page += 1
            if page > MAX_PAGES:
                raise ApiError(
                    ApiErrorKind.MALFORMED,
                    f"the Cloudflare API's {path} listing did not end after {MAX_PAGES} pages",
                )

    def list_cursor(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        per_page: int = 100,
        deadline: float | None = None,
        permission: Permission | None = None,
    ) -> list[Any]:
        """Every item of a cursor listing."""
        items: list[Any] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            query = {**(params or {}), "per_page": per_page}
            if cursor:
                query["cursor"] = cursor
            envelope = self.get(path, query, deadline=deadline, permission=permission)
            if not isinstance(envelope.result, list):
                raise ApiError(
                    ApiErrorKind.MALFORMED,
                    f"the Cloudflare API's {path} result is not a list",
                    status=envelope.status,
                )
            items.extend(envelope.result)
            next_cursor = envelope.result_info.get("cursor")
            if not next_cursor or not envelope.result or next_cursor == cursor:
                return items
            cursor = str(next_cursor)
        raise ApiError(
            ApiErrorKind.MALFORMED,
            f"the Cloudflare API's {path} listing did not end after {MAX_PAGES} pages",
        )


def _retry_delay(exc: ApiError, attempt: int) -> float | None:
    """Seconds to wait before the next attempt, or None: do not retry."""
    retryable = exc.kind is ApiErrorKind.RATE_LIMITED or (
        exc.kind is ApiErrorKind.SERVER and exc.status in RETRY_STATUSES
    )
    if exc.kind is ApiErrorKind.UNREACHABLE and attempt < 3:
        retryable = True  # a dropped connection: worth one or two quick tries
    if not retryable or attempt >= 8:
        return None
    jittered = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (attempt - 1)))
    if exc.retry_after is not None:
        return max(exc.retry_after, jittered)
    return jittered


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        import email.utils

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, 3600.0))


def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise ApiError(
                ApiErrorKind.MALFORMED,
                f"the Cloudflare API's answer is larger than {limit // (1024 * 1024)} MiB",
                status=response.status_code,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes, status: int, path: str) -> Any:
    try:
        return json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        if status == 429 or status >= 500:
            return None  # an HTML error page from a proxy: the status says enough
        raise ApiError(
            ApiErrorKind.MALFORMED,
            f"the Cloudflare API answered {path} with HTTP {status} and a body that is not JSON",
            status=status,
        ) from None


def _first_message(document: Any) -> str:
    errors = document.get("errors") if isinstance(document, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("message", ""))[:200]
    return ""


def _codes(error: Mapping[str, Any]) -> list[int]:
    """An error's code and the codes of its ``error_chain``."""
    codes = []
    for item in [error, *(error.get("error_chain") or [])]:
        if isinstance(item, dict):
            code = _int(item.get("code"))
            if code is not None:
                codes.append(code)
    return codes


def _checked(document: Any, status: int, path: str, permission: Permission | None) -> Envelope:
    if not isinstance(document, dict) or not isinstance(document.get("success"), bool):
        raise ApiError(
            ApiErrorKind.MALFORMED,
            f"the Cloudflare API answered {path} with HTTP {status} but not the v4 envelope",
            status=status,
        )
    if document["success"] and 200 <= status < 300:
        info = document.get("result_info")
        return Envelope(document.get("result"), info if isinstance(info, dict) else {}, status)
    errors = [e for e in document.get("errors") or [] if isinstance(e, dict)]
    codes = [c for e in errors for c in _codes(e)]
    text = (
        "; ".join(f"{e.get('code', '?')} {str(e.get('message', ''))[:160]}".strip() for e in errors)
        or f"HTTP {status}"
    )
    if 6111 in codes or 6003 in codes:
        kind = ApiErrorKind.BAD_HEADER
        message = f"the Cloudflare API refused the Authorization header ({text})"
    elif 1000 in codes:
        kind = ApiErrorKind.INVALID_TOKEN
        message = f"the Cloudflare API does not accept the token ({text})"
    elif 10000 in codes:
        kind = ApiErrorKind.PERMISSION
        name = permission.value if permission else "the permission for this endpoint"
        message = f"the token lacks {name} ({path}: {text})"
    elif 7003 in codes or 9109 in codes:
        kind = ApiErrorKind.ACCOUNT
        message = f"the Cloudflare API refused the account ({text})"
    elif status >= 500 or status < 300 or any(_server_side_code(c) for c in codes):
        # success: false with a code that says nothing about the token or the account
        # (10001 "service temporarily unavailable", an internal error): try again later.
        kind = ApiErrorKind.SERVER
        message = f"the Cloudflare API could not answer {path} now (HTTP {status}: {text})"
    elif status == 404:
        kind = ApiErrorKind.NOT_FOUND
        message = f"the Cloudflare API has no {path} ({text})"
    elif status in (401, 403):
        kind = ApiErrorKind.PERMISSION
        message = f"the Cloudflare API refused {path} (HTTP {status}: {text})"
    else:
        kind = ApiErrorKind.REFUSED
        message = f"the Cloudflare API refused {path} (HTTP {status}: {text})"
    raise ApiError(
        kind,
        message,
        status=status,
        code=codes[0] if codes else None,
        permission=permission if kind is ApiErrorKind.PERMISSION else None,
    )


def _server_side_code(code: int) -> bool:
    """A 1xxxx code other than 10000 (authentication): the API's own trouble."""
    return 10001 <= code <= 19999


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def is_zero_route(result: Any) -> bool:
    """cloudflared's reading of ``routes/ip/{ip}``: an empty result or a zero tunnel id means
    "no route"."""
    if not isinstance(result, dict):
        return True
    tunnel = str(result.get("tunnel_id") or "")
    return tunnel in ("", ZERO_UUID)


# --- the token's form, and keeping it out of every text ---------------------------------

MAX_TOKEN_CHARS = 512
TOKEN_RE = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def token_problem(token: str) -> str | None:
    """What makes ``token`` unusable as a bearer token, in words that never quote it; or
    ``None`` when it has the form of one."""
    if len(token) > MAX_TOKEN_CHARS:
        return f"it is longer than {MAX_TOKEN_CHARS} characters"
    if TOKEN_RE.fullmatch(token):
        return None
    if any(c in "\r\n\v\f\x85\u2028\u2029" for c in token):
        return "it has a line break"
    if any(not c.isascii() for c in token):
        return "it has a non-ASCII character"
    if any(c.isspace() for c in token):
        return "it has a space or a tab"
    if any(not c.isprintable() for c in token):
        return "it has a control character"
    return "it has a character an API token cannot have (only letters, digits and . _ ~ + / - =)"


def scrub(value: Any, token: str) -> Any:
    """``value`` (a string, or dicts/lists/tuples of them) with every trace of ``token``
    replaced by ``[token]``: the token itself, and each of its pieces between characters an
    error text may have escaped (a line break shown as ``\\n``, say)."""
    pieces = _pieces(token)
    if not pieces:
        return value
    return _scrub(value, pieces)


def _pieces(token: str) -> list[str]:
    if not token:
        return []
    parts = {token, *(p for p in re.split(r"[^A-Za-z0-9._~+/=-]+", token) if len(p) >= 4)}
    return sorted(parts, key=len, reverse=True)


def _scrub(value: Any, pieces: list[str]) -> Any:
    if isinstance(value, str):
        for piece in pieces:
            value = value.replace(piece, "[token]")
        return value
    if isinstance(value, Mapping):
        return {k: _scrub(v, pieces) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, pieces) for v in value)
    return value
