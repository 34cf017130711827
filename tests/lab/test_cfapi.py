"""The lab's Cloudflare API stand-in follows the documented shapes, `lab set` takes its
faults (and refuses bad ones), and `lab up` points ztctl at it without printing the token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.support.access import ztctl_argv
from ztctl.errors import UsageError
from ztctl.lab.control import set_values


def get(
    lab: Any, path: str, token: str | None = None, header: str | None = None
) -> tuple[int, dict[str, str], Any]:
    token = token if token is not None else lab.paths.cf_token.read_text().strip()
    url = lab.info.cfapi_url + path
    request = urllib.request.Request(url, headers={"Authorization": header or f"Bearer {token}"})  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = error.read()
        return error.code, dict(error.headers), json.loads(body) if body[:1] == b"{" else body


def account(lab: Any) -> str:
    return f"/accounts/{lab.state().warp.account_id}"


def test_envelope_and_page_pagination(lab: Any) -> None:
    status, _, doc = get(lab, account(lab) + "/teamnet/routes?per_page=1&page=1")
    assert status == 200
    assert set(doc) == {"success", "errors", "messages", "result", "result_info"}
    assert doc["success"] is True and len(doc["result"]) == 1
    assert set(doc["result_info"]) == {"count", "page", "per_page", "total_count"}
    route = doc["result"][0]
    assert route["network"] == "127.0.0.1/32" and route["virtual_network_name"] == "lab-net"
    assert route["tunnel_name"] == "k8s-lab" and route["deleted_at"] is None


def test_cursor_pagination_has_a_null_total(lab: Any) -> None:
    _, _, doc = get(lab, account(lab) + "/devices/registrations?per_page=10")
    assert doc["result_info"]["total_count"] is None and doc["result_info"]["cursor"] == ""


def test_a_miss_is_the_zero_route(lab: Any) -> None:
    _, _, doc = get(lab, account(lab) + "/teamnet/routes/ip/192.0.2.1")
    assert doc["success"] is True
    assert doc["result"]["tunnel_id"] == "00000000-0000-0000-0000-000000000000"


def test_error_shapes(lab: Any) -> None:
    status, _, doc = get(lab, account(lab) + "/cfd_tunnel", header="Bearer  two spaces")
    assert status == 400 and doc["errors"][0]["code"] == 6003
    assert doc["errors"][0]["error_chain"][0]["code"] == 6111
    status, _, doc = get(lab, "/user/tokens/verify")
    assert status == 401 and doc["errors"][0] == {"code": 1000, "message": "Invalid API Token"}
    lab.set_many("cf.lacks=tunnels")
    status, _, doc = get(lab, account(lab) + "/cfd_tunnel")
    assert status == 403 and doc["errors"][0]["code"] == 10000


def test_rate_limited_says_when_to_retry(lab: Any) -> None:
    lab.set_many("cf.api=rate-limited")
    status, headers, _ = get(lab, account(lab) + "/cfd_tunnel")
    assert status == 429 and headers["Retry-After"] == "1"


@pytest.mark.parametrize(
    "assignment",
    ["cf.api=sideways", "cf.connectors=11", "cf.lacks=everything", "cf.page-size=0", "cf.rout=ok"],
)
def test_lab_set_refuses_bad_server_side_faults(lab: Any, assignment: str) -> None:
    with pytest.raises(UsageError):
        set_values(lab.dir, [assignment])


def test_lab_up_configures_the_api_without_printing_the_token(lab: Any) -> None:
    config = lab.paths.config.read_text()
    assert "[cloudflare]" in config and lab.info.cfapi_url in config
    token = lab.paths.cf_token.read_text().strip()
    assert oct(lab.paths.cf_token.stat().st_mode & 0o777) == "0o600"
    assert token not in config
    lines = "\n".join(lab.info.export_lines())
    assert token not in lines and f"$(cat {lab.paths.cf_token})" in lines
    status = lab.run([*ztctl_argv(), "lab", "status", "--json"])
    assert token not in status.stdout
