"""The YAML layer: Go's scalar typing, quoting and emitting that kubectl reads back."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztctl.core.kubeconfig.files import parse_file
from ztctl.core.kubeconfig.yamlio import (
    YamlProblem,
    dump_document,
    parse,
    quote,
    resolve_plain,
)
from ztctl.errors import InvalidInput

# (plain scalar, what go-yaml v2 makes of it) — checked against real kubectl below.
GO_SCALARS = [
    ("abc", "abc"),
    ("y", True),
    ("Y", True),
    ("n", False),
    ("yes", True),
    ("On", True),
    ("OFF", False),
    ("oFF", "oFF"),
    ("tRue", "tRue"),
    ("~", None),
    ("", None),
    ("NULL", None),
    ("12", 12),
    ("+12", 12),
    ("-0b1", -1),
    ("0b101", 5),
    ("0x1F", 31),
    ("0o17", 15),
    ("017", 15),
    ("1_000", 1000),
    ("1e3", 1000.0),
    ("1.", 1.0),
    (".5", 0.5),
    ("-1.5e-3", -0.0015),
    ("09", 9.0),
    ("1e400", "1e400"),
    ("._5", "._5"),
    ("12:30", "12:30"),
    ("2020-01-01", "2020-01-01"),
    ("1.0.0", "1.0.0"),
    ("+inf", "+inf"),
    ("0x", "0x"),
    ("1,000", "1,000"),
]


@pytest.mark.parametrize(("text", "expected"), GO_SCALARS)
def test_plain_scalars_are_typed_like_go(text: str, expected: object) -> None:
    value = resolve_plain(text)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize("text", [".inf", "-.Inf", ".nan", ".NaN"])
def test_non_finite_numbers_are_refused_like_kubectl(text: str) -> None:
    with pytest.raises(YamlProblem, match="not a finite number"):
        parse(f"a: {text}\n")


def test_go_typing_matches_kubectl(tmp_path: Path, kubectl: str) -> None:
    """kubectl refuses a number or boolean in current-context and accepts a string or null."""
    for text, expected in GO_SCALARS:
        path = tmp_path / "config"
        path.write_text(f"current-context: {text}\n")
        proc = subprocess.run(
            [kubectl, "--kubeconfig", str(path), "config", "view", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        is_string = expected is None or isinstance(expected, str)
        assert (proc.returncode == 0) == is_string, (text, proc.stderr)


# Cases of a whole file: (text, kubectl loads it). Checked against real kubectl too.
FILES = [
    ("contexts:\n- name: x\n  context: {namespace: 2020-01-01}\n", True),
    ("clusters:\n- name: 0x1F\n  cluster: {}\n", False),
    ("clusters:\n- name: 12:30\n  cluster: {}\n", True),
    ("clusters:\n- name: ~\n  cluster: {}\n", True),
    ("clusters:\n- name: x\n  cluster: {insecure-skip-tls-verify: yes}\n", True),
    ('clusters:\n- name: x\n  cluster: {insecure-skip-tls-verify: "true"}\n', False),
    ("clusters:\n- name: x\n  cluster: {server: null}\n", True),
    ("clusters: str\n", False),
    ("clusters: {}\n", False),
    ("clusters:\n- name: x\n  cluster: []\n", False),
    ("clusters:\n-\n- name: x\n", True),
    ("clusters:\n-\n-\n", False),
    ("clusters:\n- {}\n- {}\n", False),
    ("clusters:\n- {name: x}\n- {name: x}\n", False),
    ("clusters:\n- name: x\n  name: y\n  cluster: {}\n", False),
    ("clusters:\n- name: !foo x\n  cluster: {}\n", True),
    ('clusters:\n- name: x\n  cluster: {certificate-authority-data: "not base64!"}\n', False),
    ('clusters:\n- name: x\n  cluster: {certificate-authority-data: "eA=="}\n', True),
    ('clusters:\n- name: x\n  cluster: {certificate-authority-data: "eA"}\n', False),
    ("current-context: [a]\n", False),
    ("preferences: []\n", False),
    ("preferences: {colors: 1}\n", False),
    ("extensions: {}\n", False),
    ("extensions: [{name: a}, {name: a}]\n", True),
    ("a: &x 1\nb: *x\n", True),
    ("clusters:\n- &c {name: x, cluster: {}}\n- <<: *c\n  name: y\n", False),
    ("clusters:\n- &c {name: x, cluster: {}}\n- <<: *c\n  name: z\n", True),
    ('"just a string"\n', False),
    ("users:\n- name: u\n  user: {exec: {command: x, env: {A: b}}}\n", False),
    ("users:\n- name: u\n  user: {exec: {command: x, args: [1, true]}}\n", False),
    ("users:\n- name: u\n  user: {as-user-extra: {a: b}}\n", False),
    ("users:\n- name: u\n  user: {auth-provider: {name: oidc, config: {a: 1}}}\n", False),
    ("contexts:\n- name: x\n  context: {extensions: [{name: e, extension: [1, 2]}]}\n", True),
    ("{1: 2, apiVersion: v1}\n", True),
    ("\t\n", False),
    ("a: .inf\n", False),
    ("a: +inf\n", True),
    ("clusters:\n- name: x\n  cluster: {server: 1e400}\n", True),
    ("? [a]\n: b\n", False),
    ('current-context: !!int "5"\n', False),
    ("current-context: !!str 5\n", True),
    ("users:\n- name: u\n  user: {as-groups: [1]}\n", False),
    ("", True),
    ("# only a comment\n", True),
]


def _ztctl_loads(path: Path) -> bool:
    try:
        parse_file(path, path.read_bytes())
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize(("text", "loads"), FILES)
def test_file_verdicts(tmp_path: Path, text: str, loads: bool) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    assert _ztctl_loads(path) == loads


def test_file_verdicts_match_kubectl(tmp_path: Path, kubectl: str) -> None:
    for index, (text, loads) in enumerate(FILES):
        path = tmp_path / f"config-{index}"
        path.write_text(text)
        proc = subprocess.run(
            [kubectl, "--kubeconfig", str(path), "config", "view", "-o", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert (proc.returncode == 0) == loads, (text, proc.stderr)


def test_multiple_documents_are_refused_with_a_reason(tmp_path: Path) -> None:
    # kubectl silently reads only the first document; ztctl refuses rather than guess.
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\n---\nkind: Config\n")
    with pytest.raises(InvalidInput, match="more than one YAML document"):
        parse_file(path, path.read_bytes())


def test_problems_name_the_entry_field_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(
        "clusters:\n- name: ok\n  cluster: {server: https://a}\n"
        "- name: bad\n  cluster:\n    server: 5\n"
    )
    with pytest.raises(InvalidInput) as info:
        parse_file(path, path.read_bytes())
    message = info.value.message
    assert "clusters[1] ('bad').cluster.server" in message
    assert "line 6" in message
    assert "must be a string, not a number" in message
    assert str(path) in message
    assert info.value.fix


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("current-context: 1\nclusters:\n- {name: a}\n- {name: a}\npreferences: []\n")
    with pytest.raises(InvalidInput) as info:
        parse_file(path, path.read_bytes())
    assert "3 places" in info.value.message
    assert len(info.value.details) == 3


# --- quoting and emitting ---------------------------------------------------------------

AWKWARD = [
    "y",
    "n",
    "Yes",
    "off",
    "null",
    "~",
    "",
    "1e3",
    "0o17",
    "12:30",
    "2020-01-01",
    "-",
    "- a",
    "a: b",
    "a #b",
    "#a",
    "'",
    '"',
    "\\",
    "@x",
    "`x",
    "!x",
    "&x",
    "*x",
    "%x",
    "|",
    ">",
    "[a]",
    "{a}",
    " lead",
    "trail ",
    "tab\there",
    "new\nline",
    "\x00nul",
    "\x85",
    "\u2028",
    "é€😀",
    "\ufeffbom",
    "https://k8s.prod-eu.acme.net:6443",
    "arn:aws:eks:eu-west-1:1:cluster/x",
    "a:",
    "gke_project_europe-west1_c",
    "ztctl",
    "=",
    "<<",
    "?x",
    ",x",
    ".inf",
    "+1",
    "0x1F",
]


@pytest.mark.parametrize("value", AWKWARD)
def test_quote_round_trips(value: str) -> None:
    document, _root = parse(f"k: {quote(value)}\n")
    assert document == {"k": value}


def test_quote_keeps_ordinary_values_plain() -> None:
    for value in (
        "prod-eu",
        "https://k8s.prod-eu.acme.net:6443",
        "client.authentication.k8s.io/v1",
        "/home/me/.kube/ca.pem",
        "IfAvailable",
        "LS0tLS1CRUdJTg==",
    ):
        assert quote(value) == value


def test_awkward_names_survive_kubectl(tmp_path: Path, kubectl: str) -> None:
    names = [n for n in AWKWARD if n and "\x00" not in n and "\x85" not in n]
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "contexts": [{"context": {"cluster": "c", "user": "u"}, "name": n} for n in names],
    }
    path = tmp_path / "config"
    path.write_text(dump_document(document))
    proc = subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(path),
            "config",
            "view",
            "-o",
            "jsonpath={range .contexts[*]}{.name}{'\\x1f'}{end}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    # kubectl sorts entries by name when it prints them
    assert proc.stdout.split("\x1f")[:-1] == sorted(names)


_key = st.text(min_size=0, max_size=8)
_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_value = st.recursive(
    _scalar,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_key, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_key, _value, max_size=6))
def test_emitted_documents_parse_back_identically(document: dict[str, object]) -> None:
    text = dump_document(document)
    value, _root = parse(text)
    assert (value or {}) == document


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_any_string_round_trips(value: str) -> None:
    document, _root = parse(f"- {quote(value)}\n")
    assert document == [value]
