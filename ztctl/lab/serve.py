"""The lab's background process: ``python -m ztctl.lab.serve --dir DIR``.

Starts the API server, the SOCKS5 bastion and (when the module exists) the edge server
(``/cdn-cgi/trace`` and the Access endpoints) on free loopback ports, then writes
``DIR/lab.json`` atomically: the signal that the lab is ready. Runs until SIGTERM or
SIGINT, then stops every server and removes ``lab.json`` if it still describes this
process. Logs go to ``DIR/lab.log``. ``ztctl lab up`` starts it detached; tests use the same
path through :func:`ztctl.lab.control.up`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Protocol

from ztctl.adapters.fs import atomic_write
from ztctl.lab import BASTION_SOURCE, CLUSTER_HOSTNAME, LAB_FILE, LAB_HOST, LOG_FILE

log = logging.getLogger("ztctl.lab")

SCHEMA_VERSION = 1


class Stoppable(Protocol):
    port: int

    def stop(self) -> None: ...


def lab_document(
    api_port: int,
    bastion_port: int,
    edge_port: int | None,
    lab_dir: Path,
    cfapi_port: int | None = None,
) -> dict[str, Any]:
    """The content of ``DIR/lab.json``."""
    return {
        "schemaVersion": SCHEMA_VERSION,
        "pid": os.getpid(),
        "dir": str(lab_dir),
        "startedAt": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "api": {
            "host": LAB_HOST,
            "port": api_port,
            "url": f"https://{CLUSTER_HOSTNAME}:{api_port}",
        },
        "bastion": {
            "host": LAB_HOST,
            "port": bastion_port,
            "url": f"socks5://{LAB_HOST}:{bastion_port}",
            "source": BASTION_SOURCE,
        },
        "edge": None
        if edge_port is None
        else {"host": LAB_HOST, "port": edge_port, "url": f"http://{LAB_HOST}:{edge_port}"},
        "cloudflareApi": None
        if cfapi_port is None
        else {
            "host": LAB_HOST,
            "port": cfapi_port,
            "url": f"http://{LAB_HOST}:{cfapi_port}/client/v4",
        },
    }


def _start_edge(lab_dir: Path) -> Stoppable | None:
    try:
        from ztctl.lab.edge import start_edge
    except ImportError:
        log.info("no edge module in this build: no /cdn-cgi endpoints")
        return None
    edge: Stoppable = start_edge(lab_dir, host=LAB_HOST, port=0)
    return edge


def _configure_logging(lab_dir: Path) -> None:
    handler = logging.FileHandler(lab_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def run(lab_dir: Path, stop: threading.Event) -> None:
    """Serve until ``stop`` is set."""
    from ztctl.lab.apiserver import ApiServer
    from ztctl.lab.bastion import Bastion
    from ztctl.lab.pki import ensure_pki

    pki = ensure_pki(lab_dir)
    servers: list[Stoppable] = []
    lab_file = lab_dir / LAB_FILE
    try:
        api = ApiServer(lab_dir, pki)
        api.start()
        servers.append(api)
        bastion = Bastion()
        bastion.start()
        servers.append(bastion)
        edge = _start_edge(lab_dir)
        if edge is not None:
            servers.append(edge)
        from ztctl.lab.cfapi import start_for_lab

        cfapi = start_for_lab(lab_dir, host=LAB_HOST)
        servers.append(cfapi)
        document = lab_document(
            api.port, bastion.port, edge.port if edge else None, lab_dir, cfapi.port
        )
        atomic_write(lab_file, json.dumps(document, indent=2).encode("utf-8") + b"\n", mode=0o600)
        log.info(
            "lab ready: pid %s api %s bastion %s edge %s cloudflare api %s",
            os.getpid(),
            api.port,
            bastion.port,
            edge.port if edge else "-",
            cfapi.port,
        )
        while not stop.wait(0.5):
            pass
        log.info("stopping")
    finally:
        for server in reversed(servers):
            with contextlib.suppress(Exception):
                server.stop()
        _remove_if_ours(lab_file)


def _remove_if_ours(lab_file: Path) -> None:
    with contextlib.suppress(OSError, ValueError):
        if json.loads(lab_file.read_text(encoding="utf-8")).get("pid") == os.getpid():
            lab_file.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ztctl.lab.serve", description=__doc__)
    parser.add_argument("--dir", required=True, help="the lab directory")
    args = parser.parse_args(argv)
    lab_dir = Path(args.dir).expanduser().resolve()
    lab_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _configure_logging(lab_dir)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("received signal %s", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run(lab_dir, stop)
    except Exception:
        log.exception("the lab failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
