"""A hostile catalog (issue 15): aliases, duplicate keys, look-alike names, control
characters, credentials in URLs, forbidden exec env, huge TTLs, devices and FIFOs as paths,
and messages that never grow with the input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ztctl.core.catalog import parse_catalog
from ztctl.core.duration import parse_duration
from ztctl.core.model import ExecCredential
from ztctl.errors import InvalidInput

HEAD = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
"""
CLUSTER = """\
  - name: {name}
    server: {server}
    addresses: [203.0.113.10]
    certificateAuthorityData: {ca}
    credentials:
      exec: {{command: kubelogin, args: [get-token], env: {{{env}}}}}
"""
CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def catalog(
    name: str = "lab", server: str = "https://k8s.acme.net:6443", env: str = "", extra: str = ""
) -> str:
    return HEAD + CLUSTER.format(name=name, server=server, ca=CA, env=env) + extra


def refused(text: str, base: Path | None = Path("/catalogs")) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse_catalog(text, source="c.yaml", label="c.yaml", base_dir=base)
    assert info.value.exit_code == 3
    assert info.value.fix
    return info.value


def everything(error: InvalidInput) -> str:
    return "\n".join([error.message, *error.details])


def test_the_template_is_valid() -> None:
    parsed = parse_catalog(catalog(env="K: v"), source="c", label="c", base_dir=None)
    creds = parsed.clusters[0].credentials
    assert isinstance(creds, ExecCredential) and creds.env == (("K", "v"),)


BOMB = """\
apiVersion: ztctl/v1
kind: ClusterCatalog
team: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
clusters: [*i]
"""


def test_an_alias_bomb_is_refused_fast_and_the_message_stays_small() -> None:
    started = time.monotonic()
    error = refused(BOMB)
    assert time.monotonic() - started < 1.0
    assert "alias" in error.message and "line 4" in error.message
    assert len(everything(error)) < 500


def test_even_a_harmless_alias_is_refused() -> None:
    text = catalog(extra="x: &anchor 1\n").replace("team: acme", "team: acme\n") + "y: *anchor\n"
    assert "alias" in refused(text).message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (catalog().replace("team: acme", "team: acme\nteam: evil"), "team"),
        (
            catalog().replace("    addresses:", "    server: https://evil:6443\n    addresses:"),
            "server",
        ),
    ],
)
def test_a_duplicate_yaml_key_is_refused(text: str, key: str) -> None:
    error = refused(text)
    assert f"duplicate key '{key}'" in error.message and "line" in error.message


def test_a_duplicate_json_key_is_refused() -> None:
    document = (
        '{"apiVersion": "ztctl/v1", "kind": "ClusterCatalog", "team": "acme", '
        '"team": "evil", "clusters": []}'
    )
    assert "duplicate key 'team'" in refused(document).message


@pytest.mark.parametrize("name", ["lab\n", "lab\x1b[31m", "lab\u202e", "la\u0062\u200b"])
def test_look_alike_and_control_names_are_refused(name: str) -> None:
    text = catalog(name=json.dumps(name))
    error = refused(text)
    assert "is not a valid name" in everything(error)
    assert "\x1b" not in everything(error) and "\u202e" not in everything(error)


@pytest.mark.parametrize("team", ["acme\x1b]0;pwned\x07", "ac\u202eme", "acme\x9b31m"])
def test_control_characters_in_the_team_are_refused(team: str) -> None:
    error = refused(catalog().replace("team: acme", f"team: {json.dumps(team)}"))
    assert "team" in everything(error)
    assert not any(c in everything(error) for c in "\x1b\x07\u202e\x9b")


def test_a_namespace_with_a_trailing_newline_is_refused() -> None:
    text = catalog().replace("    addresses:", '    namespace: "default\\n"\n    addresses:')
    assert "not a valid namespace" in everything(refused(text))


def test_messages_quoting_huge_values_are_bounded() -> None:
    huge = "x" * 1_000_000
    text = catalog(name=huge, server=f"ftp://{huge}")
    error = refused(text)
    assert len(everything(error)) < 2000
    assert "…" in everything(error)


def test_hundreds_of_problems_are_listed_up_to_a_limit_and_counted() -> None:
    extra = "".join(f"  - name: BAD{i}\n" for i in range(500))
    error = refused(catalog() + extra)
    assert error.message.endswith("problems")
    assert len(error.details) <= 51
    assert error.details[-1].startswith("… and ")


@pytest.mark.parametrize(
    "server", ["https://user:hunter2@k8s.acme.net:6443", "https://hunter2@k8s.acme.net"]
)
def test_userinfo_in_the_server_is_refused_and_never_echoed(server: str) -> None:
    error = refused(catalog(server=server))
    text = everything(error)
    assert "user name or password" in text
    if ":hunter2@" in server:
        assert "hunter2" not in text and "user:***@" in text


@pytest.mark.parametrize("server", ["https://[::1:6443", "https://[::1", "https://k8s:99999"])
def test_a_malformed_server_url_is_invalid_input_not_a_crash(server: str) -> None:
    assert "server" in everything(refused(catalog(server=server)))


@pytest.mark.parametrize(
    "key", ["LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PATH", "PYTHONPATH", "path"]
)
def test_exec_env_that_changes_what_runs_is_refused(key: str) -> None:
    text = everything(refused(catalog(env=f"{key}: /tmp/evil")))
    assert "may not be set by a catalog" in text


def test_exec_env_names_must_be_variable_names() -> None:
    assert "is not a variable name" in everything(refused(catalog(env='"A=B": x')))


BREAK_GLASS = """\
    breakGlass:
      maxTtl: {ttl}
      proxy: socks5://127.0.0.1:1080
"""


@pytest.mark.parametrize(("ttl", "ok"), [("7d", True), ("168h", True), ("8d", False)])
def test_max_ttl_is_bounded_to_seven_days(ttl: str, ok: bool) -> None:
    text = catalog() + BREAK_GLASS.format(ttl=ttl)
    if ok:
        parsed = parse_catalog(text, source="c", label="c", base_dir=None)
        assert parsed.clusters[0].break_glass is not None
        assert parsed.clusters[0].break_glass.max_ttl_s == 7 * 86400
    else:
        assert "longer than 7d" in everything(refused(text))


def test_an_absurd_max_ttl_is_refused() -> None:
    text = everything(refused(catalog() + BREAK_GLASS.format(ttl="999999999999d")))
    assert "maxTtl" in text


def test_a_proxy_password_is_not_echoed_in_a_problem() -> None:
    text = catalog() + "    breakGlass:\n      proxy: ftp://u:s3cret@127.0.0.1:1080\n"
    assert "s3cret" not in everything(refused(text))


@pytest.mark.parametrize("value", ["١٢m", "１m", "30m\nx", "9" * 100 + "d"])
def test_durations_take_ascii_digits_and_whole_matches_only(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert len(str(info.value)) < 120


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_as_a_certificate_path_is_refused(device: str) -> None:
    text = catalog().replace(f"certificateAuthorityData: {CA}", f"certificateAuthority: {device}")
    assert "character device, not a regular file" in everything(refused(text))


def test_a_fifo_as_a_key_path_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo)
    text = catalog().replace(
        "exec: {command: kubelogin, args: [get-token], env: {}}",
        f"clientCertificate: {tmp_path}/missing.crt\n      clientKey: {fifo}",
    )
    assert "FIFO" in everything(refused(text))


def _ztctl(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
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
    )


@pytest.mark.parametrize("url", ["https://[::1", "https://u:p@example.invalid/c.yaml"])
def test_a_malformed_catalog_url_is_exit_3_with_a_json_error(url: str, tmp_path: Path) -> None:
    run = _ztctl("--catalog", url, "clusters", "--json", tmp_path=tmp_path)
    assert run.returncode == 3, run.stderr
    error = json.loads(run.stdout)["error"]
    assert error["code"] == 3 and error["fix"]
    assert "Traceback" not in run.stderr
    assert ":p@" not in run.stdout


def test_a_fifo_as_the_catalog_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "catalog.yaml"
    os.mkfifo(fifo)
    run = _ztctl("--catalog", str(fifo), "clusters", tmp_path=tmp_path)
    assert run.returncode == 3
    assert "FIFO" in run.stderr


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("server: https://k8s.acme.net:6443", 'server: "https://k8s\\e]0;x\\a.acme.net:6443"'),
        ("args: [get-token]", 'args: ["get\\u202etoken"]'),
        ("env: {}", 'env: {K: "v\\x9b"}'),
    ],
)
def test_control_characters_anywhere_in_a_catalog_are_refused(old: str, new: str) -> None:
    text = catalog()
    assert old in text
    error = everything(refused(text.replace(old, new)))
    assert "control or bidi character" in error
    assert not any(c in error for c in "\x1b\x07\u202e\x9b")


def test_a_multi_line_script_in_a_catalog_command_is_text_not_a_control_character() -> None:
    text = catalog() + (
        "    breakGlass:\n      vpn:\n        interface: lo\n"
        '        up: [sh, -c, "echo one\\n\\techo two\\r\\n"]\n        down: ["true"]\n'
    )
    parsed = parse_catalog(text, source="c", label="c", base_dir=None)
    assert parsed.clusters[0].break_glass is not None
