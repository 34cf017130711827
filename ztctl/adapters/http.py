"""The one place ztctl builds an HTTP client (httpx is imported lazily, here only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ztctl import __version__

if TYPE_CHECKING:
    import httpx

USER_AGENT = f"ztctl/{__version__}"


def client(*, timeout: float = 10.0, verify: object = True) -> httpx.Client:
    """An httpx client with ztctl's defaults: TLS verification on, no environment proxies.

    Environment proxies are ignored on purpose: ztctl diagnoses the path WARP gives the
    laptop, and a stray ``HTTPS_PROXY`` would silently measure something else.
    """
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        verify=verify,  # type: ignore[arg-type]
        trust_env=False,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )
