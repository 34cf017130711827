"""Terminal injection (issue 15 item 7): control characters and bidi overrides from the data
never reach the terminal raw, whatever the command prints them through."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ztctl.cli.output import escape_terminal, print_table

HOSTILE = "a\x1b]0;pwned\x07b\x1b[2Jc\x9b31md\u202ee\u2066f\x7fg\x00h"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\x7f", "\x00")


def test_escape_terminal_makes_every_control_and_bidi_character_visible() -> None:
    shown = escape_terminal(HOSTILE)
    assert not any(c in shown for c in RAW)
    assert "\\x1b]0;pwned\\x07" in shown and "\\u202e" in shown and "\\x9b" in shown
    assert escape_terminal("one\ntwo") == "one\\x0atwo"
    assert escape_terminal("one\ntwo\tx", multiline=True) == "one\ntwo\tx"
    assert escape_terminal("plain: ü, 中文") == "plain: ü, 中文"


def test_line_separators_and_zero_width_characters_are_shown_too() -> None:
    shown = escape_terminal("get-token\u2028/tmp/pwn \u2029kube\u200blogin\ufeff\u2060\u061c")
    assert shown == "get-token\\u2028/tmp/pwn \\u2029kube\\u200blogin\\ufeff\\u2060\\u061c"
    assert escape_terminal("🚀 ok", multiline=True) == "🚀 ok"


def test_tables_escape_their_cells(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(["NAME"], [[HOSTILE]])
    out = capsys.readouterr().out
    assert not any(c in out for c in RAW)


def _ztctl(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
    }
    return subprocess.run(
        [sys.executable, "-m", "ztctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


CATALOG = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: lab
    server: https://127.0.0.1:6443
    addresses: [127.0.0.1]
    certificateAuthorityData: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    credentials: {accessToken: {app: https://lab.example}}
"""


def test_a_hostile_kubeconfig_context_name_is_escaped_in_use_cluster_text(
    tmp_path: Path,
) -> None:
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    (tmp_path / "kubeconfig").write_text(
        'apiVersion: v1\nkind: Config\ncurrent-context: "evil\\e]0;pwned\\a\\u202e"\n'
    )
    run = _ztctl(
        tmp_path,
        "--catalog",
        str(tmp_path / "catalog.yaml"),
        "use-cluster",
        "lab",
        "--no-switch",
        "--no-probe",
    )
    assert run.returncode == 0, run.stderr
    assert "evil\\x1b]0;pwned\\x07\\u202e" in run.stdout
    assert not any(c in run.stdout + run.stderr for c in RAW)


def test_a_hostile_value_in_an_error_is_escaped(tmp_path: Path) -> None:
    run = _ztctl(tmp_path, "--catalog", str(tmp_path / "x\x1b]0;pwned\x07.yaml"), "clusters")
    assert run.returncode == 3
    assert "\\x1b]0;pwned\\x07" in run.stderr
    assert not any(c in run.stderr for c in RAW)


# --- Escape sequences from a real API server, kubeconfig and warp-cli (hostile finding 2) ---

FORGE = "\x1b[1A\x1b[2K\x1b[31mFORGED\x1b]0;PWN\x07"
SHOWN = "\\x1b[1A\\x1b[2K\\x1b[31mFORGED\\x1b]0;PWN\\x07"  # how it must appear
CONTEXT = "x\x1b]0;PWN\x07\x1b[31mRED"


class _HostileApi(http.server.BaseHTTPRequestHandler):
    """An API server whose /readyz body, gitVersion and user name carry escape sequences."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path.startswith("/version"):
            document = {"major": "1", "minor": "32", "gitVersion": f"v1.32.4{FORGE}"}
            self._send(json.dumps(document).encode(), "application/json")
        else:
            self._send(f"ok{FORGE}".encode(), "text/plain")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "SelfSubjectReview",
            "status": {"userInfo": {"username": f"alice{FORGE}", "groups": [f"g{FORGE}"]}},
        }
        self._send(json.dumps(review).encode(), "application/json")


@pytest.fixture
def hostile_world(tmp_path: Path, lab: Any) -> Iterator[dict[str, str]]:
    """A real loopback TLS server (lab PKI), a catalog and kubeconfig for it, and a
    warp-cli stand-in that adds escape sequences to the lab warp-cli's answers."""
    from ztctl.lab.pki import ensure_pki

    pki = ensure_pki(tmp_path / "pki")
    client_cert, client_key = pki.client_variant("valid")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HostileApi)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "catalog.yaml").write_text(
        "apiVersion: ztctl/v1\nkind: ClusterCatalog\nteam: lab\nclusters:\n"
        f"  - name: hs\n    server: {url}\n    addresses: [127.0.0.1]\n"
        f"    certificateAuthority: {pki.ca_cert}\n"
        f"    credentials: {{clientCertificate: {client_cert}, clientKey: {client_key}}}\n"
    )
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CONTEXT,
        "clusters": [
            {"name": "api", "cluster": {"server": url, "certificate-authority": str(pki.ca_cert)}}
        ],
        "users": [
            {
                "name": "hs",
                "user": {"client-certificate": str(client_cert), "client-key": str(client_key)},
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": "api", "user": "hs"}}],
    }
    (tmp_path / "kubeconfig").write_text(json.dumps(kubeconfig))
    warp = tmp_path / "evilwarp"
    warp.write_text(
        f"#!{sys.executable}\n"
        "import subprocess, sys\n"
        f"run = subprocess.run([{str(lab.paths.bin / 'warp-cli')!r}, *sys.argv[1:]],"
        " capture_output=True, text=True)\n"
        'out = run.stdout.replace(\'"status":"Connected"\', \'"status":"Connected'
        "\\\\u001b[31mX\\\\u001b]0;PWN\\\\u0007\"')\n"
        'out = out.replace(\'"organization":"lab"\', \'"organization":"lab'
        "\\\\u001b[1A\\\\u001b[2K\\\\u001b[32mFORGED\"')\n"
        "sys.stdout.write(out)\n"
        "sys.stderr.write(run.stderr)\n"
        "sys.exit(run.returncode)\n"
    )
    warp.chmod(0o755)
    env = {
        **lab.env,
        "ZTCTL_CONFIG": str(tmp_path / "none.toml"),
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "ZTCTL_CATALOG": str(tmp_path / "catalog.yaml"),
        "KUBECONFIG": str(tmp_path / "kubeconfig"),
        "ZTCTL_WARP_CLI": str(warp),
        "TERM": "xterm",
        "COLUMNS": "400",  # rich folds nothing: an escape stays whole on one line
    }
    for name in ("NO_COLOR", "FORCE_COLOR", "ZTCTL_CF_API_TOKEN"):
        env.pop(name, None)
    try:
        yield env
    finally:
        server.shutdown()
        server.server_close()


def _piped(env: dict[str, str], *args: str) -> bytes:
    run = subprocess.run(
        [sys.executable, "-m", "ztctl", *args],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return run.stdout + run.stderr


def _on_a_tty(env: dict[str, str], *args: str) -> bytes:
    """stdout and stderr on a pseudo-terminal: colours and rich's live table are on."""
    primary, secondary = os.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ztctl", *args],
            stdout=secondary,
            stderr=secondary,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        os.close(secondary)
        chunks = []
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.wait(timeout=60)
    finally:
        os.close(primary)
    return b"".join(chunks)


def _assert_no_forgery(output: bytes, *, expect: tuple[str, ...]) -> None:
    text = output.decode("utf-8", "replace")
    for shown in expect:
        assert shown in text, f"{shown!r} missing from {text!r}"  # the data did reach us
    # Every FORGED/RED/X from the data is preceded by its visible escape, never by a raw one.
    assert "FORGED" in text
    for raw in ("\x1b[31mFORGED", "\x1b[32mFORGED", "\x1b]0;PWN", "\x07", "\x1b[31mRED"):
        assert raw not in text, f"raw {raw!r} in {text!r}"
    for match in re.finditer("FORGED", text):
        before = text[max(0, match.start() - 12) : match.start()]
        assert re.search(r"\\(x1b|u001b)\[3[12]m$", before), f"{before!r}FORGED in {text!r}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_probe_shows_escapes_from_the_server_and_kubeconfig_visibly(
    hostile_world: dict[str, str],
) -> None:
    expect = (SHOWN, "x\\x1b]0;PWN\\x07\\x1b[31mRED")
    piped = _piped(hostile_world, "probe", "hs", "-v")
    assert b"\x1b" not in piped
    _assert_no_forgery(piped, expect=expect)
    tty = _on_a_tty(hostile_world, "probe", "hs", "-v")
    _assert_no_forgery(tty, expect=expect)
    assert b"\x1b[1mhs\x1b[0m" in tty  # ztctl's own colour still reaches a terminal
    document = json.loads(
        subprocess.run(
            [sys.executable, "-m", "ztctl", "probe", "hs", "--json"],
            capture_output=True,
            env=hostile_world,
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        ).stdout
    )
    assert document["context"] == CONTEXT  # JSON keeps the data, escaped by JSON
    assert any(FORGE in text for text in _strings(document))


def test_doctor_shows_escapes_from_the_server_and_warp_cli_visibly(
    hostile_world: dict[str, str],
) -> None:
    expect = (SHOWN, "Connected\\x1b[31mX\\x1b]0;PWN\\x07")
    piped = _piped(hostile_world, "doctor", "hs", "-v")
    assert b"\x1b" not in piped
    _assert_no_forgery(piped, expect=expect)
    tty = _on_a_tty(hostile_world, "doctor", "hs", "-v")
    _assert_no_forgery(tty, expect=expect)
    assert re.search(rb"\x1b\[(1;)?3[123]m(PASS|WARN|FAIL)", tty)  # own colour on a terminal
    raw_json = subprocess.run(
        [sys.executable, "-m", "ztctl", "doctor", "hs", "--json"],
        capture_output=True,
        env=hostile_world,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    ).stdout
    assert b"\x1b" not in raw_json
    assert any("FORGED" in text for text in _strings(json.loads(raw_json)))


def test_only_ztctls_own_tokens_become_sequences() -> None:
    from ztctl.cli.output import render_terminal
    from ztctl.cli.palette import CLEAR_LINE, Palette

    painted = Palette(True)("ok", "green")
    assert render_terminal(painted + "\x1b[31mx\r\x08") == "\x1b[32mok\x1b[0m\\x1b[31mx\\x0d\\x08"
    assert render_terminal(CLEAR_LINE) == "\r\x1b[2K"
    # A token-shaped text with another number is data: shown, never turned into a sequence.
    assert "\x1b" not in render_terminal("\ue0000000000000000000:1\ue001\x1b[2K")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_text_written_while_rich_draws_a_live_view_is_guarded_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rich's live view (doctor's table, login's spinner) replaces stdout/stderr with its
    own redirect, which would pass the data's SGR codes on as styles: the guard goes back
    in front of it."""
    from rich.console import Console
    from rich.live import Live

    from ztctl.cli.output import install_terminal_guard, unguarded

    terminal = _Tty()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    install_terminal_guard()
    console = Console(file=unguarded(sys.stdout), force_terminal=True, color_system="standard")
    live = Live("checks", console=console, auto_refresh=False)
    live.start()
    install_terminal_guard()  # as doctor and login do
    sys.stderr.write(f"warning: {CONTEXT}\n")
    live.stop()
    shown = terminal.getvalue()
    assert "x\\x1b]0;PWN\\x07\\x1b[31mRED" in shown
    assert "\x1b]0;PWN" not in shown and "\x1b[31mRED" not in shown
