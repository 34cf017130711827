"""The Cloudflare API client against the lab's stand-in on loopback: the envelope, both
paginations, the error codes, retries within the deadline, and the token never shown."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from tests.support.cfapi import TOKEN, StandIn, catalog_entries, stand_in
from ztctl.adapters.cloudflare import (
    ApiError,
    ApiErrorKind,
    CloudflareApi,
    Permission,
    check_account_id,
    check_api_url,
    fix_for,
    is_zero_route,
)
from ztctl.errors import InvalidInput


@pytest.fixture
def cf(tmp_path: Path) -> Iterator[StandIn]:
    with stand_in(tmp_path, catalog_entries(5)) as server:
        yield server


def client(cf: StandIn, token: str = TOKEN, account: str | None = None, **kw: Any) -> CloudflareApi:
    return CloudflareApi(cf.url, account or cf.account_id, token, **kw)


def test_envelope_result_and_verify(cf: StandIn) -> None:
    api = client(cf)
    envelope = api.get(api.account_path("tokens/verify"))
    assert envelope.status == 200 and envelope.result["status"] == "active"


def test_page_pagination_goes_past_the_first_page(cf: StandIn) -> None:
    cf.state.cloudflare.page_size = 2  # the server caps per_page below what we ask
    api = client(cf)
    routes = api.list_pages(api.account_path("teamnet/routes"), {"is_deleted": "false"})
    assert len(routes) == 5
    pages = [q["page"] for p, q in cf.api.requests if p.endswith("/teamnet/routes")]
    assert pages == ["1", "2", "3"]


class _CursorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    pages: ClassVar[dict[str, Any]] = {
        "": (["a", "b"], "c1"),
        "c1": (["c"], "c2"),
        "c2": (["d"], ""),
    }

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        from urllib.parse import parse_qs, urlsplit

        cursor = parse_qs(urlsplit(self.path).query).get("cursor", [""])[0]
        items, nxt = self.pages[cursor]
        info = {"count": len(items), "cursor": nxt, "per_page": 2, "total_count": None}
        body = json.dumps(
            {
                "success": True,
                "errors": [],
                "messages": ["plain string"],
                "result": items,
                "result_info": info,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_cursor_pagination_follows_the_cursor_until_it_is_empty() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CursorHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = CloudflareApi(f"http://127.0.0.1:{server.server_address[1]}", "a" * 32, TOKEN)
        assert api.list_cursor("/x") == ["a", "b", "c", "d"]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("setup", "kind", "code"),
    [
        (lambda cf: {"token": TOKEN + " extra"}, ApiErrorKind.BAD_HEADER, 6003),
        (lambda cf: {"token": "not-the-token"}, ApiErrorKind.INVALID_TOKEN, 1000),
        (lambda cf: {"account": "f" * 32}, ApiErrorKind.ACCOUNT, 9109),
        (lambda cf: {"account": "not-an-account"}, ApiErrorKind.ACCOUNT, 7003),
    ],
    ids=["malformed-header", "invalid-token", "other-account", "unknown-account"],
)
def test_error_codes_are_told_apart(
    cf: StandIn, setup: Any, kind: ApiErrorKind, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ztctl.adapters.cloudflare

    # The client refuses to send a token with a space itself (tested below); here the
    # server's answer to one is what is under test.
    monkeypatch.setattr(ztctl.adapters.cloudflare, "token_problem", lambda _token: None)
    api = client(cf, **setup(cf))
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("teamnet/virtual_networks"))
    assert info.value.kind is kind and info.value.code == code
    assert TOKEN not in info.value.message and TOKEN not in str(api.transcript)


def test_missing_permission_names_the_group(cf: StandIn) -> None:
    cf.state.cloudflare.lacks = ["tunnels"]
    api = client(cf)
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("cfd_tunnel"), permission=Permission.TUNNELS)
    assert info.value.kind is ApiErrorKind.PERMISSION
    assert "Cloudflare Tunnel Read" in info.value.message
    assert "Cloudflare Tunnel Read" in info.value.fix


def test_a_200_with_success_false_is_an_error(cf: StandIn) -> None:
    cf.state.cloudflare.api = "unsuccessful"
    api = client(cf)
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("teamnet/virtual_networks"))
    # 10001 "service temporarily unavailable": the API's trouble, not the account's.
    assert info.value.kind is ApiErrorKind.SERVER and info.value.code == 10001
    assert info.value.transient


def test_malformed_json_is_malformed(cf: StandIn) -> None:
    cf.state.cloudflare.api = "malformed"
    api = client(cf)
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("teamnet/virtual_networks"))
    assert info.value.kind is ApiErrorKind.MALFORMED and info.value.transient


def test_429_is_retried_after_retry_after(cf: StandIn) -> None:
    cf.state.cloudflare.api = "flaky"  # the first call of each path is a 429, Retry-After: 1
    api = client(cf)
    began = time.monotonic()
    envelope = api.get(api.account_path("devices/settings"), deadline=time.monotonic() + 5)
    assert envelope.result["gateway_proxy_enabled"] is True
    assert time.monotonic() - began >= 1.0  # Retry-After was honoured
    assert api.transcript[-1].attempts == 2


def test_a_429_storm_ends_within_the_deadline(cf: StandIn) -> None:
    cf.state.cloudflare.api = "rate-limited"
    api = client(cf)
    began = time.monotonic()
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("devices/settings"), deadline=time.monotonic() + 1.5)
    assert info.value.kind is ApiErrorKind.RATE_LIMITED
    assert time.monotonic() - began < 1.6


def test_server_errors_are_retried_then_reported(cf: StandIn) -> None:
    cf.state.cloudflare.api = "down"
    api = client(cf)
    began = time.monotonic()
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("devices/settings"), deadline=time.monotonic() + 3.0)
    assert info.value.kind is ApiErrorKind.SERVER and info.value.status == 503
    assert api.transcript[-1].attempts >= 2
    assert time.monotonic() - began < 3.2


def test_a_black_hole_times_out_at_the_deadline(cf: StandIn) -> None:
    cf.state.cloudflare.api = "blackhole"
    api = client(cf, timeout=5.0)
    began = time.monotonic()
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("devices/settings"), deadline=time.monotonic() + 0.8)
    assert info.value.kind is ApiErrorKind.TIMEOUT
    assert time.monotonic() - began < 1.3


def test_unreachable(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = CloudflareApi(f"http://127.0.0.1:{port}/client/v4", "a" * 32, TOKEN)
    with pytest.raises(ApiError) as info:
        api.get("/user/tokens/verify", deadline=time.monotonic() + 1)
    assert info.value.kind is ApiErrorKind.UNREACHABLE


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.cloudflare.com/client/v4", True),
        ("http://127.0.0.1:8080/client/v4", True),
        ("http://localhost:8080/client/v4", True),
        ("http://api.example.com/client/v4", False),
        ("ftp://127.0.0.1/x", False),
        ("https://", False),
    ],
)
def test_api_url_plain_http_only_on_loopback(url: str, ok: bool) -> None:
    if ok:
        assert check_api_url(url) == url.rstrip("/")
    else:
        with pytest.raises(InvalidInput):
            check_api_url(url)


def test_account_id_is_32_hex() -> None:
    assert (
        check_account_id(" 699D98642C564D2E855E9661899B7252 ") == "699d98642c564d2e855e9661899b7252"
    )
    with pytest.raises(InvalidInput):
        check_account_id("acme")


def test_every_error_kind_has_a_fix_and_a_permission_fix_names_it() -> None:
    for kind in ApiErrorKind:
        assert fix_for(kind), kind
    for permission in Permission:
        assert permission.value in fix_for(ApiErrorKind.PERMISSION, permission=permission)


@pytest.mark.parametrize(
    ("result", "zero"),
    [
        (None, True),
        ({}, True),
        ({"tunnel_id": ""}, True),
        ({"tunnel_id": "00000000-0000-0000-0000-000000000000"}, True),
        ({"tunnel_id": "f70ff985-a4ef-4643-bbbc-4a0ed4fc8415"}, False),
    ],
)
def test_zero_route_reads_like_cloudflared(result: Any, zero: bool) -> None:
    assert is_zero_route(result) is zero


@pytest.mark.parametrize("token", ["SECRETpart1\nSECRETpart2", "SECRETpart1\u00e9SECRETpart2"])
def test_a_malformed_token_is_never_sent_nor_quoted(cf: StandIn, token: str) -> None:
    api = client(cf, token=token)
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("tokens/verify"))
    assert info.value.kind is ApiErrorKind.BAD_HEADER
    assert "SECRET" not in info.value.message and "malformed" in info.value.message
    assert not cf.api.requests  # nothing went out


@pytest.mark.parametrize("token", ["SECRETpart1\nSECRETpart2", "SECRETpart1\u00e9SECRETpart2"])
def test_a_refused_header_is_reported_without_the_library_text(
    cf: StandIn, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defense in depth: were the token's form not checked first, httpx's own error (which
    quotes the header) is still never used."""
    import ztctl.adapters.cloudflare

    monkeypatch.setattr(ztctl.adapters.cloudflare, "token_problem", lambda _token: None)
    api = client(cf, token=token)
    with pytest.raises(ApiError) as info:
        api.get(api.account_path("tokens/verify"))
    assert info.value.kind is ApiErrorKind.BAD_HEADER
    assert "SECRET" not in info.value.message and "Authorization" in info.value.message


def test_scrub_removes_the_token_and_its_escaped_pieces() -> None:
    from ztctl.adapters.cloudflare import scrub

    token = "SECRETpart1\nSECRETpart2"
    value = {
        "a": "Illegal header value b'Bearer SECRETpart1\\nSECRETpart2'",
        "b": ["x SECRETpart1\nSECRETpart2 y", ("SECRETpart2",)],
        "c": 3,
    }
    clean = scrub(value, token)
    assert "SECRET" not in json.dumps(clean)
    assert clean["c"] == 3 and clean["b"][0] == "x [token] y"
    assert scrub("nothing here", "abcdef") == "nothing here"
