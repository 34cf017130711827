"""``warp-cli --json settings`` as a table: each key, its type rules, and what is refused.

Rule: a value of the wrong type is read as unknown (None, or left out of a list), never
guessed; an error object or a document without any settings key is refused. Pure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ztctl.adapters.warp import SplitEntry, WarpParseError, WarpSettings, parse_settings

FULL = {
    "operation_mode": "WarpWithDnsOverHttps",
    "proxy_port": 40000,
    "split_tunnel_mode": "Exclude",
    "split_tunnel_ips": [
        {"value": "10.0.0.0/8", "description": "corp"},
        {"value": "192.168.0.0/16", "description": 7},
        "172.16.0.0/12",
        {"value": 5},
        3,
    ],
    "split_tunnel_hosts": [{"value": "*.acme.net"}],
    "organization": "acme",
    "always_on": True,
    "switch_locked": False,
    "warp_tunnel_protocol": "MASQUE",
    "fallback_domains": ["corp.example", {"suffix": "intranet"}, {"other": 1}, 9],
    "profile_id": "p-1",
}
FULL_SETTINGS = WarpSettings(
    mode="warp+doh",
    mode_text="WarpWithDnsOverHttps",
    proxy_port=40000,
    split_mode="exclude",
    split_entries=(
        SplitEntry("10.0.0.0/8", "corp"),
        SplitEntry("192.168.0.0/16", ""),
        SplitEntry("172.16.0.0/12", ""),
        SplitEntry("*.acme.net", ""),
    ),
    organization="acme",
    always_on=True,
    switch_locked=False,
    protocol="MASQUE",
    fallback_domains=("corp.example", "intranet", ""),
    profile_id="p-1",
)
WRONG_TYPES = {
    "operation_mode": 3,
    "proxy_port": True,
    "split_tunnel_mode": 1,
    "split_tunnel_ips": "10.0.0.0/8",
    "split_tunnel_hosts": {"value": "x"},
    "organization": "",
    "always_on": "yes",
    "switch_locked": 1,
    "warp_tunnel_protocol": 2,
    "fallback_domains": "corp.example",
    "profile_id": 4,
}

# (the JSON document, the settings read)
DOCUMENTS = [
    (FULL, FULL_SETTINGS),
    ({"settings": FULL}, FULL_SETTINGS),
    (WRONG_TYPES, WarpSettings(mode="unknown")),
    ({"operation_mode": "Warp"}, WarpSettings(mode="warp", mode_text="Warp")),
    ({"split_tunnel_mode": "Include"}, WarpSettings(mode="unknown", split_mode="include")),
    ({"always_on": False}, WarpSettings(mode="unknown", always_on=False)),
    (
        {"always_on": False, "split_tunnel_ips": None, "split_tunnel_hosts": ["a.example"]},
        WarpSettings(mode="unknown", always_on=False, split_entries=(SplitEntry("a.example"),)),
    ),
    ({"always_on": True, "proxy_port": "40000"}, WarpSettings(mode="unknown", always_on=True)),
]


@pytest.mark.parametrize(("document", "settings"), DOCUMENTS)
def test_settings_json(document: dict[str, Any], settings: WarpSettings) -> None:
    assert parse_settings(json.dumps(document)) == settings


NO_KEYS = "warp-cli settings JSON has no known keys"

# (the JSON document, the whole reason it is refused)
REFUSED = [
    (
        {"error": "daemon not running", "code": "ipc"},
        "warp-cli reported an error instead of settings",
    ),
    ({"organization": "acme"}, NO_KEYS),
    ({"settings": {"organization": "acme"}}, NO_KEYS),
    # not an object: read as text, which has none of the keys either
    ([{"operation_mode": "Warp"}], "warp-cli settings printed none of the known keys"),
]


@pytest.mark.parametrize(("document", "reason"), REFUSED)
def test_refused_settings_json(document: Any, reason: str) -> None:
    with pytest.raises(WarpParseError) as caught:
        parse_settings(json.dumps(document))
    assert str(caught.value) == reason
