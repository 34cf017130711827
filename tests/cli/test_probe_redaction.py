"""`ztctl probe` never prints a proxy's password: planted in the catalog's break-glass proxy
and in HTTPS_PROXY, then every output (text, JSON, -vv; success and failure) is scanned."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from ztctl.lab.env import catalog_document

ZTCTL = [sys.executable, "-m", "ztctl"]
SECRET = "Pl4nted-Pr0xy-Passw0rd"


def planted_catalog(lab: Any, proxy_at: str | None = None) -> Path:
    """The lab's catalog, its break-glass proxy with a user and password (at ``proxy_at``
    instead when given), next to the original (relative paths resolve the same)."""
    document = catalog_document(lab.info)
    for cluster in document["clusters"]:
        proxy = cluster.get("breakGlass", {}).get("proxy")
        if proxy:
            scheme, rest = proxy.split("://", 1)
            cluster["breakGlass"]["proxy"] = f"{scheme}://ops:{SECRET}@{proxy_at or rest}"
    name = "catalog-planted-secret.yaml" if proxy_at is None else "catalog-planted-closed.yaml"
    path = lab.paths.catalog.with_name(name)
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def test_no_probe_output_carries_a_proxy_password(lab: Any) -> None:
    working = planted_catalog(lab)  # the lab's proxy: the probe succeeds through it
    closed = planted_catalog(lab, proxy_at="127.0.0.1:9")  # nothing listens: it fails
    proxy_env = {"HTTPS_PROXY": f"http://ops:{SECRET}@127.0.0.1:9"}
    runs = [
        (working, {"zt_path": "reset"}, ["lab"], {}),  # auto tries the break-glass proxy too
        (working, {"zt_path": "reset"}, ["lab", "--json"], {}),
        (working, {"zt_path": "blackhole"}, ["lab", "--route", "break-glass", "-vv"], {}),
        (closed, {"zt_path": "reset"}, ["lab", "-vv"], {}),
        (closed, {"zt_path": "reset"}, ["lab", "--json"], {}),
        (closed, {}, ["lab", "--route", "break-glass"], {}),
        (closed, {}, ["lab", "--route", "break-glass", "--json"], {}),
        (working, {}, ["lab", "--route", "zero-trust", "--timeout", "2"], proxy_env),
        (working, {}, ["lab", "--route", "zero-trust", "--timeout", "2", "--json"], proxy_env),
    ]
    seen_proxy = False
    for catalog, fault, args, env in runs:
        lab.set(**(fault or {"zt_path": "up"}))
        proc = lab.run(
            [*ZTCTL, "--catalog", str(catalog), "probe", *args],
            env={**env, "NO_PROXY": "", "no_proxy": ""},
            timeout=60,
        )
        output = proc.stdout + proc.stderr
        assert SECRET not in output, (args, output)
        assert "ops:" not in output, (args, output)
        seen_proxy = seen_proxy or ("127.0.0.1:" in output and "through" in output)
        if "--json" in args:
            json.loads(proc.stdout)  # still one JSON document
    assert seen_proxy  # the proxies were named, without their passwords
