"""The posture readers as pure functions: macOS fdesetup/socketfilterfw, Windows manage-bde
and netsh (cases the corpus lacks; the corpus rows are in tests/conformance)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztctl.core.doctor.device import (
    parse_fdesetup,
    parse_manage_bde,
    parse_netsh_firewall,
    parse_socketfilterfw,
)

ALL_PROFILES = """
Domain Profile Settings:
----------------------------------------------------------------------
State                                 ON

Private Profile Settings:
----------------------------------------------------------------------
State                                 OFF

Public Profile Settings:
----------------------------------------------------------------------
State                                 ON
Ok.
"""


def test_manage_bde_protection_on_and_missing() -> None:
    on = parse_manage_bde("    Protection Status:    Protection On\n")
    assert (on.status, on.detail) == ("pass", "BitLocker protection is on")
    assert (
        parse_manage_bde("ERROR: An attempt to access a required resource was denied.").status
        == "skip"
    )


def test_netsh_names_the_profile_that_is_off() -> None:
    fact = parse_netsh_firewall(ALL_PROFILES)
    assert fact.status == "warn"
    assert fact.detail == "Windows Defender Firewall is off for the Private profile"
    on = parse_netsh_firewall(ALL_PROFILES.replace("OFF", "ON"))
    assert on.status == "pass" and "Domain, Private, Public" in on.detail


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("Firewall is enabled. (State = 1)\n", "pass"),
        ("Firewall is blocking all non-essential incoming connections. (State = 2)\n", "pass"),
        ("Firewall is disabled. (State = 0)\n", "warn"),
        ("Firewall is enabled.\n", "pass"),  # no state number: the wording decides
        ("socketfilterfw: must be root\n", "skip"),
        ("", "skip"),
    ],
)
def test_socketfilterfw_states(text: str, status: str) -> None:
    assert parse_socketfilterfw(text).status == status


@given(st.text(max_size=300))
def test_readers_never_raise_and_only_skip_on_garbage(text: str) -> None:
    for reader in (parse_fdesetup, parse_socketfilterfw, parse_manage_bde, parse_netsh_firewall):
        assert reader(text).status in ("pass", "warn", "skip")
