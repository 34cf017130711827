"""device.clock against the lab edge's Date header; device.posture's local facts (on fake
mountinfo/sysfs trees) and the server's verdict from the lab's get-identity endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.doctor_lab import doctor, result
from tests.support.access import access_fixture  # noqa: F401
from ztctl.core.doctor.device import linux_disk_encryption, parse_device_posture

DEVICE = {"clusters": ()}


@pytest.mark.parametrize(
    ("skew", "status", "word"),
    [
        (0, "pass", "in sync"),
        (-45, "warn", "ahead"),
        (900, "fail", "behind"),
        (-3600, "fail", "ahead"),
    ],
)
def test_clock_skew_against_the_edge_date(lab, skew: int, status: str, word: str) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, f"clock-skew={skew}", **DEVICE), "device.clock")
    assert r.status == status, r.summary
    assert word in r.summary
    if status != "pass":
        assert abs(abs(r.data["skewSeconds"]) - abs(skew)) <= 2
        assert "time" in r.fix
    else:
        assert r.fix == ""


# -- disk encryption on Linux, from mountinfo and sysfs ------------------------------------

MOUNTINFO = "22 1 {major}:{minor} / / rw,relatime shared:1 - {fstype} {source} rw\n"


def sysfs(tmp_path: Path, devices: dict[str, tuple[str, list[str]]]) -> Path:
    """``{name: (dm uuid or "", [slaves])}`` as /sys/class/block."""
    root = tmp_path / "block"
    for name, (uuid, slaves) in devices.items():
        base = root / name
        base.mkdir(parents=True)
        if uuid:
            (base / "dm").mkdir()
            (base / "dm" / "uuid").write_text(uuid + "\n")
        if slaves:
            (base / "slaves").mkdir()
            for slave in slaves:
                (base / "slaves" / slave).mkdir()
    return root


def test_root_on_luks_passes(tmp_path: Path) -> None:
    block = sysfs(
        tmp_path, {"dm-0": ("CRYPT-LUKS2-abc-luks", ["nvme0n1p3"]), "nvme0n1p3": ("", [])}
    )
    info = MOUNTINFO.format(major=253, minor=0, fstype="ext4", source="dm-0")
    fact = linux_disk_encryption(info.replace(" dm-0 ", " /dev/dm-0 "), block, tmp_path)
    assert fact.status == "pass" and "dm-crypt" in fact.detail


def test_lvm_on_luks_passes(tmp_path: Path) -> None:
    block = sysfs(
        tmp_path,
        {
            "dm-1": ("LVM-xyz", ["dm-0"]),
            "dm-0": ("CRYPT-LUKS2-abc-cryptlvm", ["sda2"]),
            "sda2": ("", []),
        },
    )
    info = MOUNTINFO.format(major=253, minor=1, fstype="ext4", source="/dev/dm-1")
    assert linux_disk_encryption(info, block, tmp_path).status == "pass"


def test_plain_partition_warns(tmp_path: Path) -> None:
    block = sysfs(tmp_path, {"sda1": ("", [])})
    info = MOUNTINFO.format(major=8, minor=1, fstype="ext4", source="/dev/sda1")
    fact = linux_disk_encryption(info, block, tmp_path)
    assert fact.status == "warn" and "not on a dm-crypt" in fact.detail and "LUKS" in fact.fix


def test_container_root_is_an_honest_skip(tmp_path: Path) -> None:
    info = MOUNTINFO.format(major=0, minor=50, fstype="overlay", source="overlay")
    fact = linux_disk_encryption(info, tmp_path, tmp_path)
    assert fact.status == "skip" and "overlay" in fact.detail


# -- the server's verdict ---------------------------------------------------------------


def test_parse_device_posture() -> None:
    doc = {
        "devicePosture": {
            "r1": {
                "id": "r1",
                "rule_name": "Disk encryption",
                "type": "disk_encryption",
                "success": False,
            },
            "r2": {"id": "r2", "rule_name": "OS version", "type": "os_version", "success": True},
            "r3": "garbage",
        }
    }
    rules = parse_device_posture(doc)
    assert [(r.name, r.success) for r in rules] == [
        ("Disk encryption", False),
        ("OS version", True),
    ]
    assert parse_device_posture({"devicePosture": []}) == []
    assert parse_device_posture("nope") == []


def lab_token(lab):  # type: ignore[no-untyped-def]
    from ztctl.lab.jwt import issue_token

    token = issue_token(lab.dir, lab.server)
    return lambda _ctx, _cluster=None: (token, "a lab-minted token")


def test_server_verdict_names_each_failing_rule_with_its_fix(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(
        lab, "posture.fail=disk_encryption,firewall", token_source=lab_token(lab), **DEVICE
    )
    r = result(report, "device.posture")
    assert r.status == "fail"
    assert "'Disk encryption' (disk_encryption)" in r.summary
    assert "'Firewall' (firewall)" in r.summary
    assert "fails 2 of 5 rules" in r.summary
    assert "Disk encryption: turn on disk encryption" in r.fix
    assert "Firewall: turn on the OS firewall" in r.fix
    failing = [x["name"] for x in r.data["server"]["rules"] if not x["success"]]
    assert sorted(failing) == ["Disk encryption", "Firewall"]


def test_server_verdict_passing_every_rule(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, token_source=lab_token(lab), **DEVICE), "device.posture")
    assert r.status == "pass" and "passes all 5 rules" in r.summary
    assert r.data["server"]["available"] is True


def test_require_warp_rule_fails_while_disconnected(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(
        doctor(lab, "warp.connected=false", token_source=lab_token(lab), **DEVICE), "device.posture"
    )
    assert r.status == "fail" and "Require WARP" in r.summary
    assert "warp-cli connect" in r.fix


def test_without_a_token_the_local_facts_stand_alone(lab) -> None:  # type: ignore[no-untyped-def]
    r = result(doctor(lab, **DEVICE), "device.posture")
    assert r.status in ("pass", "warn", "skip")
    assert r.data["server"]["available"] is False
    assert set(r.data["local"]) == {"osVersion", "diskEncryption", "firewall"}


def test_token_from_the_isolated_keyring(access) -> None:  # type: ignore[no-untyped-def]
    """The default token source: the token `ztctl login` keeps under the cluster's name."""
    access.put("lab-sso", access.mint())
    report = doctor(access.lab, "posture.fail=os_version", **DEVICE)
    r = result(report, "device.posture")
    assert r.status == "fail" and "'OS version'" in r.summary
    assert "'lab-sso'" in r.data["server"]["note"]


def test_a_rejected_token_is_no_verdict(lab) -> None:  # type: ignore[no-untyped-def]
    bogus = lambda _ctx, _cluster=None: ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "test")  # noqa: E731
    r = result(doctor(lab, token_source=bogus, **DEVICE), "device.posture")
    assert r.data["server"]["available"] is False
    assert "refused the stored Access token" in r.data["server"]["note"]


def test_device_mapper_symlink_is_followed(tmp_path: Path) -> None:
    block = sysfs(tmp_path, {"dm-0": ("CRYPT-LUKS2-abc-root", ["sda2"]), "sda2": ("", [])})
    dev = tmp_path / "dev"
    (dev / "mapper").mkdir(parents=True)
    (dev / "dm-0").touch()
    (dev / "mapper" / "root").symlink_to(dev / "dm-0")
    info = MOUNTINFO.format(major=253, minor=0, fstype="ext4", source="/dev/mapper/root")
    assert linux_disk_encryption(info, block, dev).status == "pass"
