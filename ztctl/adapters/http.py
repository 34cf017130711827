"""The one place ztctl builds an HTTP client (httpx is imported lazily, here only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ztctl import __version__

if TYPE_CHECKING:
    import ssl

    import httpx

USER_AGENT = f"ztctl/{__version__}"


def client(*, timeout: float = 10.0, verify: object = True, limits: Any = None) -> httpx.Client:
    """An httpx client with ztctl's defaults: TLS verification on, no environment proxies.

    Environment proxies are ignored on purpose: ztctl diagnoses the path WARP gives the
    laptop, and a stray ``HTTPS_PROXY`` would silently measure something else.
    """
    import httpx

    extra: dict[str, Any] = {"limits": limits} if limits is not None else {}
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        verify=verify,  # type: ignore[arg-type]
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        **extra,
    )


def trust_context(env: Mapping[str, str] | None = None) -> ssl.SSLContext:
    """A TLS client context that trusts what the operating system trusts (``truststore``:
    the macOS keychain, the Windows store, the distribution's bundle on Linux), so a Gateway
    root certificate installed on the laptop is trusted here exactly as by the browser.
    ``SSL_CERT_FILE`` in ``env`` (a corporate bundle) is trusted in addition."""
    import ssl

    import truststore

    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cafile = (env or {}).get("SSL_CERT_FILE")
    if cafile:
        context.load_verify_locations(cafile=cafile)
    return context


class FetchError(Exception):
    """A GET that produced no usable answer; the message is one line for a person."""


class Fetched:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def fetch(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    deadline_s: float = 10.0,
    max_bytes: int = 4 * 1024 * 1024,
    env: Mapping[str, str] | None = None,
) -> Fetched:
    """GET ``url`` with the OS trust store, bounded in time *overall* and in size.

    A per-read timeout alone does not bound a server that trickles a byte every few
    seconds; so the request runs on a daemon thread and is abandoned at ``deadline_s`` (its
    socket times out soon after on its own)."""
    import threading

    outcome: list[Fetched | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_fetch(url, headers or {}, deadline_s, max_bytes, env))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run, name="ztctl-fetch", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if not outcome:
        raise FetchError(f"no complete answer within {deadline_s:g}s")
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _fetch(
    url: str,
    headers: Mapping[str, str],
    deadline_s: float,
    max_bytes: int,
    env: Mapping[str, str] | None,
) -> Fetched:
    import httpx

    verify: Any = trust_context(env) if url.startswith("https://") else True
    try:
        with (
            client(timeout=deadline_s, verify=verify) as session,
            session.stream("GET", url, headers=dict(headers)) as response,
        ):
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"the answer is larger than {max_bytes // 1024} KiB")
                chunks.append(chunk)
            return Fetched(response.status_code, dict(response.headers), b"".join(chunks))
    except httpx.HTTPError as exc:
        text = str(exc) or type(exc).__name__
        raise FetchError(text.splitlines()[0]) from None
