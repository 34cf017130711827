"""Every catalog validation rule, as tables (pure: YAML text in, Catalog or problems out).

Each row changes one field of an otherwise valid cluster and names the problem the catalog
must report, with the field's path; valid rows say what the field becomes. A catalog with
any problem fails as a whole with exit code 3 (invalid input) and nothing is used.
"""

from __future__ import annotations

import base64
import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztctl.core.catalog_parse import DEFAULT_MAX_TTL_S, parse_catalog
from ztctl.core.model import (
    AccessToken,
    Catalog,
    ClientCertificate,
    ExecCredential,
    ProxyRoute,
    SshRoute,
    VpnRoute,
)
from ztctl.errors import EXIT_INVALID_INPUT, InvalidInput

BASE = Path("/catalogs")
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_B64 = base64.b64encode(PEM).decode()


class _Dropped:
    """A row value meaning: leave the field out (a stable repr keeps test ids stable)."""

    def __repr__(self) -> str:
        return "DROP"


DROP = _Dropped()


def cluster(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "prod",
        "server": "https://k8s.acme.net:6443",
        "addresses": ["203.0.113.10"],
        "certificateAuthority": "ca.pem",
        "credentials": {"clientCertificate": "c.crt", "clientKey": "c.key"},
    }
    for key, value in changes.items():
        if value is DROP:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def document(*clusters: dict[str, Any], **top: Any) -> str:
    doc: dict[str, Any] = {
        "apiVersion": "ztctl/v1",
        "kind": "ClusterCatalog",
        "team": "acme",
        "clusters": list(clusters),
    }
    for key, value in top.items():
        if value is DROP:
            doc.pop(key, None)
        else:
            doc[key] = value
    return yaml.safe_dump(doc, sort_keys=False)


def parse(text: str, base: Path | None = BASE) -> Catalog:
    return parse_catalog(text, source="cat.yaml", label="cat.yaml", base_dir=base)


def problems(text: str, base: Path | None = BASE) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse(text, base)
    error = caught.value
    assert error.exit_code == EXIT_INVALID_INPUT
    assert "docs/catalog.md" in error.fix
    return error.details or [error.message]


def only_problem(text: str, base: Path | None = BASE) -> str:
    found = problems(text, base)
    assert len(found) == 1, found
    return found[0]


USERINFO = (
    "carries a user name or password: remove USER:PASSWORD@ "
    "(credentials go under credentials:, never in the URL)"
)
ENV_RUNS = (
    "may not be set by a catalog (LD_*, DYLD_*, PATH and PYTHON* change which code runs); "
    "give the plugin's full path in command instead"
)

# -- names -----------------------------------------------------------------------------

VALID_NAMES = ["a", "0", "prod", "prod-eu", "a.b_c-d", "1a", "a" * 63, "x" + "-" * 61 + "y"]
INVALID_NAMES = [
    "",
    "-prod",
    "prod-",
    ".prod",
    "prod.",
    "_prod",
    "Prod",
    "acc!!!",
    "acc\n",  # a trailing newline (a regex `$` would let it through)
    "\nacc",
    "acc\nx",
    "pr od",
    " prod",
    "prød",
    "a" * 64,
    "prod/eu",
    "prod:eu",
]


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_names(name: str) -> None:
    assert parse(document(cluster(name=name))).names == [name]


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_names(name: str) -> None:
    problem = only_problem(document(cluster(name=name)))
    assert problem.startswith("cat.yaml: clusters[0]")
    assert ".name: " in problem
    assert problem.endswith(
        f"{name!r} is not a valid name (lowercase letters, digits, '.', '_', '-'; "
        "starts and ends with a letter or digit; at most 63 characters)"
    )


@pytest.mark.parametrize("name", [5, None, ["prod"], True])
def test_a_name_that_is_not_a_string(name: object) -> None:
    assert "clusters[0].name: " in only_problem(document(cluster(name=name)))


def test_missing_name() -> None:
    assert "clusters[0].name: None is not a valid name" in only_problem(
        document(cluster(name=DROP))
    )


def test_problems_after_a_duplicate_are_reported_too() -> None:
    found = problems(document(cluster(), cluster(), cluster(name="dev", server="http://x")))
    assert [p.split(": ")[1] for p in found] == ["clusters[1] (prod)", "clusters[2] (dev).server"]


def test_duplicate_names_point_at_the_first() -> None:
    found = only_problem(document(cluster(), cluster(server="https://other:6443")))
    assert found == "cat.yaml: clusters[1] (prod): duplicate name; clusters[0] has it already"


# -- one field at a time: (field, value, problem path, problem text) ---------------------

FIELD_PROBLEMS = [
    # server
    ("server", DROP, "server", "is required: the API server URL, https://HOST:PORT"),
    ("server", 6443, "server", "is required: the API server URL, https://HOST:PORT"),
    (
        "server",
        "http://k8s.acme.net:6443",
        "server",
        "'http://k8s.acme.net:6443' must use https:// (the API server speaks TLS)",
    ),
    (
        "server",
        "k8s.acme.net:6443",
        "server",
        "'k8s.acme.net:6443' must use https:// (the API server speaks TLS)",
    ),
    (
        "server",
        "ftp://k8s.acme.net",
        "server",
        "'ftp://k8s.acme.net' must use https:// (the API server speaks TLS)",
    ),
    ("server", "https://:6443", "server", "'https://:6443' has no host name"),
    ("server", "https://k8s.acme.net:0", "server", "'https://k8s.acme.net:0' has an invalid port"),
    (
        "server",
        "https://k8s.acme.net:65536",
        "server",
        "'https://k8s.acme.net:65536' has an invalid port",
    ),
    (
        "server",
        "https://k8s.acme.net:port",
        "server",
        "'https://k8s.acme.net:port' has an invalid port",
    ),
    # addresses
    ("addresses", DROP, "addresses", "is required: a list of the API server's IP addresses"),
    ("addresses", [], "addresses", "is required: a list of the API server's IP addresses"),
    (
        "addresses",
        "203.0.113.10",
        "addresses",
        "is required: a list of the API server's IP addresses",
    ),
    ("addresses", ["k8s.acme.net"], "addresses[0]", "'k8s.acme.net' is not an IP address"),
    (
        "addresses",
        ["203.0.113.10", "300.1.1.1"],
        "addresses[1]",
        "'300.1.1.1' is not an IP address",
    ),
    # namespace
    (
        "namespace",
        "Kube-System",
        "namespace",
        "'Kube-System' is not a valid namespace (DNS-1123 label)",
    ),
    ("namespace", "-ns", "namespace", "'-ns' is not a valid namespace (DNS-1123 label)"),
    ("namespace", "ns-", "namespace", "'ns-' is not a valid namespace (DNS-1123 label)"),
    ("namespace", "a.b", "namespace", "'a.b' is not a valid namespace (DNS-1123 label)"),
    ("namespace", "ns\n", "namespace", "'ns\\n' is not a valid namespace (DNS-1123 label)"),
    (
        "namespace",
        "n" * 64,
        "namespace",
        f"{'n' * 64!r} is not a valid namespace (DNS-1123 label)",
    ),
    ("namespace", 5, "namespace", "5 is not a valid namespace (DNS-1123 label)"),
    # certificate authority
    ("certificateAuthority", "", "certificateAuthority", "must be a file path"),
    ("certificateAuthority", "  ", "certificateAuthority", "must be a file path"),
    ("certificateAuthority", 5, "certificateAuthority", "must be a file path"),
    (
        "certificateAuthorityData",
        "not base64!",
        "certificateAuthorityData",
        "is not valid base64 (it must be the base64 of a PEM certificate)",
    ),
    (
        "certificateAuthorityData",
        5,
        "certificateAuthorityData",
        "must be the base64 of a PEM certificate",
    ),
    (
        "certificateAuthorityData",
        base64.b64encode(b"hello").decode(),
        "certificateAuthorityData",
        "does not decode to a PEM certificate (-----BEGIN CERTIFICATE-----)",
    ),
    # credentials
    (
        "credentials",
        DROP,
        "credentials",
        "is required: clientCertificate + clientKey, exec, or accessToken",
    ),
    (
        "credentials",
        "token",
        "credentials",
        "is required: clientCertificate + clientKey, exec, or accessToken",
    ),
    ("credentials", {}, "credentials", "needs exactly one of clientCertificate, exec, accessToken"),
    (
        "credentials",
        {"exec": {"command": "x"}, "accessToken": {"app": "https://a.acme.net"}},
        "credentials",
        "has exec and accessToken; keep exactly one of clientCertificate, exec, accessToken",
    ),
    (
        "credentials",
        {"clientCertificate": "c.crt"},
        "credentials.clientKey",
        "is required with clientCertificate",
    ),
    (
        "credentials",
        {"exec": {"command": "x"}, "clientKey": "k"},
        "credentials.clientKey",
        "only goes with clientCertificate, not exec",
    ),
    (
        "credentials",
        {"clientCertificate": "", "clientKey": "c.key"},
        "credentials.clientCertificate",
        "must be a file path",
    ),
    (
        "credentials",
        {"clientCertificate": "c.crt", "clientKey": 5},
        "credentials.clientKey",
        "must be a file path",
    ),
    (
        "credentials",
        {"exec": "kubelogin"},
        "credentials.exec",
        "must be a mapping with command, args and env",
    ),
    (
        "credentials",
        {"exec": {"args": []}},
        "credentials.exec.command",
        "is required: the plugin executable",
    ),
    (
        "credentials",
        {"exec": {"command": " "}},
        "credentials.exec.command",
        "is required: the plugin executable",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "args": "--a"}},
        "credentials.exec.args",
        "must be a list of strings",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "args": [{"a": 1}]}},
        "credentials.exec.args",
        "must be a list of strings",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "args": 5}},
        "credentials.exec.args",
        "must be a list of strings",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": ["A=1"]}},
        "credentials.exec.env",
        "must be a mapping of variable names to values",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {1: "a"}}},
        "credentials.exec.env",
        "must be a mapping of variable names to values",
    ),
    (
        "credentials",
        {"accessToken": "https://a"},
        "credentials.accessToken",
        "must be a mapping with app: https://...",
    ),
    (
        "credentials",
        {"accessToken": {"app": "http://a.acme.net"}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    (
        "credentials",
        {"accessToken": {"app": "https://"}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    (
        "credentials",
        {"accessToken": {}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    # break-glass
    (
        "breakGlass",
        "proxy",
        "breakGlass",
        "must be a mapping with maxTtl and one of proxy, ssh, vpn",
    ),
    ("breakGlass", {}, "breakGlass", "needs exactly one of proxy, ssh, vpn"),
    (
        "breakGlass",
        {"proxy": "socks5://127.0.0.1:1080", "ssh": {"host": "b"}},
        "breakGlass",
        "has proxy and ssh; keep exactly one of proxy, ssh, vpn",
    ),
    (
        "breakGlass",
        {"maxTtl": "1h garbage", "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "'1h garbage' is not a duration like 30m, 4h or 1h30m",
    ),
    (
        "breakGlass",
        {"maxTtl": 30, "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "'30' has no unit: write e.g. 30m or 30s",
    ),
    (
        "breakGlass",
        {"maxTtl": "0s", "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "'0s' must be longer than zero",
    ),
    (
        "breakGlass",
        {"proxy": 1080},
        "breakGlass.proxy",
        "must be a proxy URL such as socks5://127.0.0.1:1080",
    ),
    (
        "breakGlass",
        {"proxy": "ftp://127.0.0.1:1080"},
        "breakGlass.proxy",
        "'ftp://127.0.0.1:1080' must be socks5://HOST:PORT, socks5h://HOST:PORT or http(s)://HOST:PORT",
    ),
    (
        "breakGlass",
        {"proxy": "socks5://127.0.0.1"},
        "breakGlass.proxy",
        "'socks5://127.0.0.1' must be socks5://HOST:PORT, socks5h://HOST:PORT or http(s)://HOST:PORT",
    ),
    (
        "breakGlass",
        {"proxy": "socks5://:1080"},
        "breakGlass.proxy",
        "'socks5://:1080' must be socks5://HOST:PORT, socks5h://HOST:PORT or http(s)://HOST:PORT",
    ),
    (
        "breakGlass",
        {"proxy": "socks5://h:99999"},
        "breakGlass.proxy",
        "'socks5://h:99999' must be socks5://HOST:PORT, socks5h://HOST:PORT or http(s)://HOST:PORT",
    ),
    (
        "breakGlass",
        {"ssh": "bastion"},
        "breakGlass.ssh",
        "must be a mapping with host, user, port, identityFile",
    ),
    (
        "breakGlass",
        {"ssh": {"user": "u"}},
        "breakGlass.ssh.host",
        "is required: the bastion host name",
    ),
    (
        "breakGlass",
        {"ssh": {"host": " "}},
        "breakGlass.ssh.host",
        "is required: the bastion host name",
    ),
    (
        "breakGlass",
        {"ssh": {"host": "-oProxyCommand=sh"}},
        "breakGlass.ssh.host",
        "is required: the bastion host name",
    ),
    (
        "breakGlass",
        {"ssh": {"host": "b", "user": "-l"}},
        "breakGlass.ssh.user",
        "must be a user name",
    ),
    ("breakGlass", {"ssh": {"host": "b", "user": 5}}, "breakGlass.ssh.user", "must be a user name"),
    ("breakGlass", {"ssh": {"host": "b", "port": 0}}, "breakGlass.ssh.port", "0 is not a TCP port"),
    (
        "breakGlass",
        {"ssh": {"host": "b", "port": 65536}},
        "breakGlass.ssh.port",
        "65536 is not a TCP port",
    ),
    (
        "breakGlass",
        {"ssh": {"host": "b", "port": "22"}},
        "breakGlass.ssh.port",
        "'22' is not a TCP port",
    ),
    (
        "breakGlass",
        {"ssh": {"host": "b", "port": True}},
        "breakGlass.ssh.port",
        "True is not a TCP port",
    ),
    (
        "breakGlass",
        {"ssh": {"host": "b", "identityFile": ""}},
        "breakGlass.ssh.identityFile",
        "must be a file path",
    ),
    (
        "breakGlass",
        {"vpn": ["wg-quick"]},
        "breakGlass.vpn",
        "must be a mapping with up, down and interface",
    ),
    (
        "breakGlass",
        {"vpn": {"up": "wg-quick up oob", "down": ["d"], "interface": "oob"}},
        "breakGlass.vpn.up",
        "must be a command as a list, e.g. [wg-quick, up, oob]",
    ),
    (
        "breakGlass",
        {"vpn": {"up": ["u"], "down": [], "interface": "oob"}},
        "breakGlass.vpn.down",
        "must be a command as a list, e.g. [wg-quick, up, oob]",
    ),
    (
        "breakGlass",
        {"vpn": {"up": ["u", 5], "down": ["d"], "interface": "oob"}},
        "breakGlass.vpn.up",
        "must be a command as a list, e.g. [wg-quick, up, oob]",
    ),
    (
        "breakGlass",
        {"vpn": {"up": ["u"], "down": ["d"]}},
        "breakGlass.vpn.interface",
        "is required: the VPN's network interface",
    ),
    (
        "breakGlass",
        {"vpn": {"up": ["u"], "down": ["d"], "interface": " "}},
        "breakGlass.vpn.interface",
        "is required: the VPN's network interface",
    ),
    # hardening: what a hostile or careless catalog may not carry
    (
        "server",
        "https://[::1:6443",
        "server",
        "'https://[::1:6443' is not a URL (an IPv6 host goes in brackets)",
    ),
    (
        "server",
        "https://admin:s3cret@k8s.acme.net:6443",
        "server",
        f"'https://admin:***@k8s.acme.net:6443' {USERINFO}",
    ),
    # a user name alone may be a token: hidden whole
    ("server", "https://tok3n@k8s.acme.net", "server", f"'https://***@k8s.acme.net' {USERINFO}"),
    (
        "credentials",
        {"accessToken": {"app": 5}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    (
        "credentials",
        {"accessToken": {"app": "https://[::1"}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    (
        "credentials",
        {"accessToken": {"app": "https://u:p@a.acme.net"}},
        "credentials.accessToken.app",
        "must be the Access application's https URL (no user name or password in it)",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {"1A": "v"}}},
        "credentials.exec.env",
        "'1A' is not a variable name",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {"A-B": "v"}}},
        "credentials.exec.env",
        "'A-B' is not a variable name",
    ),
    *(
        (
            "credentials",
            {"exec": {"command": "x", "env": {name: "v"}}},
            f"credentials.exec.env.{name}",
            ENV_RUNS,
        )
        for name in (
            "PATH",
            "path",
            "LD_PRELOAD",
            "ld_preload",
            "DYLD_INSERT_LIBRARIES",
            "PythonPath",
        )
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {"A": True}}},
        "credentials.exec.env.A",
        "must be a string, got True",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {"A": [1]}}},
        "credentials.exec.env.A",
        "must be a string, got a list",
    ),
    (
        "credentials",
        {"exec": {"command": "x", "env": {"A": None}}},
        "credentials.exec.env.A",
        "must be a string, got None",
    ),
    (
        "breakGlass",
        {"maxTtl": True, "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "True is not a duration like 30m, 4h or 1h30m",
    ),
    (
        "breakGlass",
        {"maxTtl": [30], "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "a list is not a duration like 30m, 4h or 1h30m",
    ),
    (
        "breakGlass",
        {"maxTtl": "7d1s", "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "'7d1s' is longer than 7d, the longest break-glass session ztctl allows",
    ),
    (
        "breakGlass",
        {"maxTtl": "169h", "proxy": "socks5://127.0.0.1:1080"},
        "breakGlass.maxTtl",
        "'169h' is longer than 7d, the longest break-glass session ztctl allows",
    ),
]


@pytest.mark.parametrize(("field", "value", "path", "text"), FIELD_PROBLEMS)
def test_field_problems(field: str, value: object, path: str, text: str) -> None:
    changes: dict[str, Any] = {field: value}
    if field == "certificateAuthorityData":
        changes["certificateAuthority"] = DROP
    problem = only_problem(document(cluster(**changes)))
    assert problem == f"cat.yaml: clusters[0] (prod).{path}: {text}"


# -- where a rule is about the cluster as a whole --------------------------------------


def test_both_ca_forms() -> None:
    problem = only_problem(document(cluster(certificateAuthorityData=PEM_B64)))
    assert problem == (
        "cat.yaml: clusters[0] (prod): has both certificateAuthority and "
        "certificateAuthorityData; keep exactly one"
    )


def test_no_ca() -> None:
    problem = only_problem(document(cluster(certificateAuthority=DROP)))
    assert problem == (
        "cat.yaml: clusters[0] (prod): needs certificateAuthority (a PEM file) or "
        "certificateAuthorityData"
    )


def test_relative_paths_need_a_local_catalog() -> None:
    found = problems(document(cluster()), base=None)
    assert found == [  # the CA, the client certificate and the key
        f"cat.yaml: clusters[0] (prod).{field}: relative path {path!r} in a catalog served "
        "over https cannot be resolved; use an absolute or ~ path, or certificateAuthorityData"
        for field, path in [
            ("certificateAuthority", "ca.pem"),
            ("credentials.clientCertificate", "c.crt"),
            ("credentials.clientKey", "c.key"),
        ]
    ]
    assert parse(
        document(
            cluster(
                certificateAuthority="/etc/ca.pem",
                credentials={"clientCertificate": "/c.crt", "clientKey": "~/c.key"},
            )
        ),
        base=None,
    ).clusters


# -- what valid fields become -----------------------------------------------------------


def test_a_valid_cluster_becomes_its_model() -> None:
    text = document(
        cluster(
            addresses=["203.0.113.10", "2001:DB8::1"],
            namespace="kube-system",
            breakGlass={"maxTtl": "4h", "proxy": "socks5h://127.0.0.1:1080"},
        )
    )
    (prod,) = parse(text).clusters
    assert prod.name == "prod" and prod.server == "https://k8s.acme.net:6443"
    assert prod.addresses == ("203.0.113.10", "2001:db8::1")  # normalised
    assert prod.certificate_authority == BASE / "ca.pem"
    assert prod.certificate_authority_data is None
    assert prod.namespace == "kube-system"
    assert prod.credentials == ClientCertificate(BASE / "c.crt", BASE / "c.key")
    assert prod.break_glass is not None
    assert prod.break_glass.max_ttl_s == 4 * 3600
    assert prod.break_glass.route == ProxyRoute("socks5h://127.0.0.1:1080")


@pytest.mark.parametrize(
    "server", ["https://k8s.acme.net", "https://k8s.acme.net:1", "https://k8s.acme.net:65535"]
)
def test_valid_servers(server: str) -> None:
    assert parse(document(cluster(server=server))).clusters[0].server == server


def test_ca_data_is_kept_as_written() -> None:
    text = document(cluster(certificateAuthority=DROP, certificateAuthorityData=PEM_B64))
    (prod,) = parse(text).clusters
    assert prod.certificate_authority is None and prod.certificate_authority_data == PEM_B64


@pytest.mark.parametrize(
    ("credentials", "model"),
    [
        (
            {"exec": {"command": "kubelogin", "args": ["get-token", 5], "env": {"A": 1}}},
            ExecCredential("kubelogin", ("get-token", "5"), (("A", "1"),)),
        ),
        ({"exec": {"command": "kubelogin"}}, ExecCredential("kubelogin", (), ())),
        ({"accessToken": {"app": "https://k8s.acme.net"}}, AccessToken("https://k8s.acme.net")),
    ],
)
def test_valid_credentials(credentials: dict[str, Any], model: object) -> None:
    assert parse(document(cluster(credentials=credentials))).clusters[0].credentials == model


@pytest.mark.parametrize(
    ("break_glass", "route", "ttl"),
    [
        ({"proxy": "socks5://127.0.0.1:1080"}, ProxyRoute("socks5://127.0.0.1:1080"), None),
        ({"proxy": "http://proxy:3128"}, ProxyRoute("http://proxy:3128"), None),
        ({"proxy": "https://proxy:443", "maxTtl": "30m"}, ProxyRoute("https://proxy:443"), 1800),
        # the longest session allowed, written both ways
        ({"proxy": "http://p:1", "maxTtl": "7d"}, ProxyRoute("http://p:1"), 7 * 86400),
        ({"proxy": "http://p:1", "maxTtl": "168h"}, ProxyRoute("http://p:1"), 7 * 86400),
        ({"ssh": {"host": "bastion"}}, SshRoute("bastion", None, 22, None), None),
        ({"ssh": {"host": "b", "port": 1}}, SshRoute("b", None, 1, None), None),
        ({"ssh": {"host": "b", "port": 65535}}, SshRoute("b", None, 65535, None), None),
        (
            {"ssh": {"host": "b", "user": "ops", "port": 2222, "identityFile": "id"}},
            SshRoute("b", "ops", 2222, BASE / "id"),
            None,
        ),
        (
            {"vpn": {"up": ["wg-quick", "up", "oob"], "down": ["d"], "interface": "oob"}},
            VpnRoute(("wg-quick", "up", "oob"), ("d",), "oob"),
            "2h",
        ),
    ],
)
def test_valid_break_glass(break_glass: dict[str, Any], route: object, ttl: object) -> None:
    if ttl == "2h":
        break_glass = {**break_glass, "maxTtl": "2h"}
        ttl = 7200
    (prod,) = parse(document(cluster(breakGlass=break_glass))).clusters
    assert prod.break_glass is not None
    assert prod.break_glass.route == route
    assert prod.break_glass.max_ttl_s == (ttl if ttl is not None else DEFAULT_MAX_TTL_S)


def test_break_glass_null_means_none() -> None:
    assert parse(document(cluster(breakGlass=None))).clusters[0].break_glass is None


# -- unknown keys, with the name meant ---------------------------------------------------

UNKNOWN_KEYS = [
    ({"sever": "x"}, "clusters[0] (prod).sever: unknown field (did you mean 'server'?)"),
    ({"namespaces": "x"}, "clusters[0] (prod).namespaces: unknown field (did you mean"),
    (
        {"credentials": {"exec": {"command": "x", "arg": []}}},
        "clusters[0] (prod).credentials.exec.arg: unknown field",
    ),
    (
        {"credentials": {"accessToken": {"app": "https://a.acme.net", "aud": "x"}}},
        "clusters[0] (prod).credentials.accessToken.aud: unknown field",
    ),
    (
        {"credentials": {"clientCertificate": "c", "clientKey": "k", "token": "t"}},
        "clusters[0] (prod).credentials.token: unknown field",
    ),
    (
        {"breakGlass": {"proxy": "socks5://h:1", "maxTTL": "1h"}},
        "clusters[0] (prod).breakGlass.maxTTL: unknown field (did you mean 'maxTtl'?)",
    ),
    (
        {"breakGlass": {"ssh": {"host": "b", "identity": "id"}}},
        "clusters[0] (prod).breakGlass.ssh.identity: unknown field",
    ),
    (
        {"breakGlass": {"vpn": {"up": ["u"], "down": ["d"], "interface": "i", "x": 1}}},
        "clusters[0] (prod).breakGlass.vpn.x: unknown field",
    ),
]


@pytest.mark.parametrize(("changes", "text"), UNKNOWN_KEYS)
def test_unknown_keys(changes: dict[str, Any], text: str) -> None:
    problem = only_problem(document(cluster(**changes)))
    assert problem.startswith("cat.yaml: " + text), problem


# -- the document ------------------------------------------------------------------------

TOP_PROBLEMS = [
    ({"apiVersion": "ztctl/v2"}, "cat.yaml: apiVersion: must be 'ztctl/v1', got 'ztctl/v2'"),
    ({"apiVersion": DROP}, "cat.yaml: apiVersion: must be 'ztctl/v1', got None"),
    ({"kind": "Catalog"}, "cat.yaml: kind: must be 'ClusterCatalog', got 'Catalog'"),
    ({"team": ""}, "cat.yaml: team: must be the Zero Trust team name (a non-empty string)"),
    ({"team": "  "}, "cat.yaml: team: must be the Zero Trust team name (a non-empty string)"),
    ({"team": 5}, "cat.yaml: team: must be the Zero Trust team name (a non-empty string)"),
    ({"clusters": {"prod": {}}}, "cat.yaml: clusters: must be a list of clusters, got mapping"),
    ({"clusters": DROP}, "cat.yaml: clusters: must be a list of clusters, got nothing"),
    ({"clusters": "prod"}, "cat.yaml: clusters: must be a list of clusters, got string"),
    ({"clusters": [5]}, "cat.yaml: clusters[0]: must be a mapping, got number"),
    ({"clusters": [["prod"]]}, "cat.yaml: clusters[0]: must be a mapping, got list"),
    ({"clusters": [True]}, "cat.yaml: clusters[0]: must be a mapping, got boolean"),
    ({"clusters": [None]}, "cat.yaml: clusters[0]: must be a mapping, got nothing"),
    ({"clusters": [1.5]}, "cat.yaml: clusters[0]: must be a mapping, got number"),
    # YAML has more types than these; any other is named by its Python type
    (
        {"clusters": datetime.date(2026, 1, 1)},
        "cat.yaml: clusters: must be a list of clusters, got date",
    ),
    ({"teams": "acme"}, "cat.yaml: teams: unknown field (did you mean 'team'?)"),
    ({"name": "prod"}, "cat.yaml: name: unknown field"),
    ({"k" * 100: 1}, f"cat.yaml: {'k' * 79}…: unknown field"),  # a key is quoted bounded
    (
        {"team": "t" * 254},
        f"cat.yaml: team: '{'t' * 80}…' is not a team name (no control characters, at most 253)",
    ),
    (
        {"team": "ac\u202eme"},
        "cat.yaml: team: 'ac\\u202eme' is not a team name (no control characters, at most 253)",
    ),
    (
        {"clusters": [cluster(certificateAuthority="ca\u202e.pem")]},
        "cat.yaml: clusters[0].certificateAuthority: 'ca\\u202e.pem' has an invisible, control "
        "or bidi character, U+202E (RIGHT-TO-LEFT OVERRIDE), at character 3 (none is allowed "
        "in a catalog)",
    ),
    (
        {"clusters": [cluster(credentials={"exec": {"command": "x", "args": ["a\x1b[2J"]}})]},
        "cat.yaml: clusters[0].credentials.exec.args[0]: 'a\\x1b[2J' has an invisible, "
        "control or bidi character, U+001B (a control character), at character 2 (none is "
        "allowed in a catalog)",
    ),
]


@pytest.mark.parametrize(("top", "text"), TOP_PROBLEMS)
def test_document_problems(top: dict[str, Any], text: str) -> None:
    assert only_problem(document(cluster(), **top)) == text


def test_the_longest_team_name() -> None:
    assert parse(document(cluster(), team="t" * 253)).team == "t" * 253


def test_one_problem_is_the_message_itself() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(document(cluster(addresses=[])))
    error = caught.value
    assert (error.message, error.fix, error.details) == (
        "cat.yaml: clusters[0] (prod).addresses: is required: a list of the API server's IP "
        "addresses",
        "fix the fields named above (see docs/catalog.md)",
        [],
    )


def test_past_fifty_problems_the_rest_are_counted() -> None:
    text = document(*[cluster(name=f"c{i}", addresses=[]) for i in range(53)])
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    error = caught.value
    assert (error.message, error.fix) == (
        "catalog cat.yaml has 53 problems",
        "fix the fields named above (see docs/catalog.md)",
    )
    assert error.details == [
        *(
            f"cat.yaml: clusters[{i}] (c{i}).addresses: is required: a list of the API "
            "server's IP addresses"
            for i in range(50)
        ),
        "… and 3 more",
    ]


def test_a_duplicate_of_a_bad_name_is_quoted() -> None:
    bad = (
        "'Bad' is not a valid name (lowercase letters, digits, '.', '_', '-'; starts and ends "
        "with a letter or digit; at most 63 characters)"
    )
    assert problems(document(cluster(name="Bad"), cluster(name="Bad"))) == [
        f"cat.yaml: clusters[0] ('Bad').name: {bad}",
        f"cat.yaml: clusters[1] ('Bad').name: {bad}",
        "cat.yaml: clusters[1] ('Bad'): duplicate name; clusters[0] has it already",
    ]


@pytest.mark.parametrize(
    ("name", "kind"), [("sub", "a directory"), ("/dev/null", "a character device")]
)
def test_a_file_path_that_is_not_a_regular_file(name: str, kind: str, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    shown = name if name.startswith("/") else str(tmp_path / name)
    text = document(cluster(certificateAuthority=name))
    assert only_problem(text, tmp_path) == (
        f"cat.yaml: clusters[0] (prod).certificateAuthority: '{shown}' is {kind}, not a "
        "regular file"
    )


def test_a_relative_base_dir_is_joined_once() -> None:
    catalog = parse(document(cluster()), Path("catalogs"))
    assert catalog.clusters[0].certificate_authority == Path("catalogs/ca.pem")


def test_every_problem_is_listed_at_once() -> None:
    text = document(cluster(name="Bad", server="http://x"), cluster(name="ok", addresses=[]))
    with pytest.raises(InvalidInput) as caught:
        parse(text.replace("ztctl/v1", "v0"))
    error = caught.value
    assert error.message == "catalog cat.yaml has 4 problems"
    assert [p.split(": ")[1] for p in error.details] == [
        "apiVersion",
        "clusters[0] ('Bad').name",  # a bad name is quoted where it is named
        "clusters[0] ('Bad').server",
        "clusters[1] (ok).addresses",
    ]


# -- a document that is not a catalog at all: the whole message and fix ------------------

FILL_IN = (
    "fill it in: apiVersion: ztctl/v1, kind: ClusterCatalog, team, clusters (see docs/catalog.md)"
)
TOP_LEVEL = "make the top level a mapping: apiVersion: ztctl/v1, kind: ClusterCatalog, team"
NOT_A_MAPPING = "catalog cat.yaml must be a mapping with apiVersion, kind, team and clusters, not a"
TAB = "a tab, where YAML allows only spaces"
NOT_YAML = "catalog cat.yaml is not valid YAML at line"


def spaces_fix(lines: str) -> str:
    return (
        f"check {lines}: indent with spaces that line up, close every quote and bracket "
        "(see docs/catalog.md for the format)"
    )


def tab_fix(line: int) -> str:
    return f"indent line {line} with spaces, not tabs (see docs/catalog.md for the format)"


# (the document, the message, the fix)
UNUSABLE_DOCUMENTS = [
    ("", "catalog cat.yaml is empty", FILL_IN),
    ("# nothing\n# yet\n", "catalog cat.yaml is empty", FILL_IN),
    ("  \n\n", "catalog cat.yaml is empty", FILL_IN),
    ("---\n", "catalog cat.yaml is empty", FILL_IN),
    ("null\n", "catalog cat.yaml is empty", FILL_IN),
    ("~\n", "catalog cat.yaml is empty", FILL_IN),
    (
        "- name: prod\n- name: dev\n",
        f"{NOT_A_MAPPING} list",
        f"{TOP_LEVEL}, and the list of clusters under `clusters:` (see docs/catalog.md)",
    ),
    (
        "[a, b]\n",
        f"{NOT_A_MAPPING} list",
        f"{TOP_LEVEL}, and the list of clusters under `clusters:` (see docs/catalog.md)",
    ),
    ("just text", f"{NOT_A_MAPPING} string", f"{TOP_LEVEL}, clusters (see docs/catalog.md)"),
    ("42\n", f"{NOT_A_MAPPING} number", f"{TOP_LEVEL}, clusters (see docs/catalog.md)"),
    ("true\n", f"{NOT_A_MAPPING} boolean", f"{TOP_LEVEL}, clusters (see docs/catalog.md)"),
    ("2026-01-01\n", f"{NOT_A_MAPPING} date", f"{TOP_LEVEL}, clusters (see docs/catalog.md)"),
    # tab indentation, wherever the tab is
    (
        "apiVersion: ztctl/v1\n\tkind: ClusterCatalog\n",
        f"{NOT_YAML} 2, column 1: {TAB}",
        tab_fix(2),
    ),
    ("clusters:\n\t- name: prod\n", f"{NOT_YAML} 2, column 1: {TAB}", tab_fix(2)),
    ("team: acme\nclusters:\n  -\tname: prod\n", f"{NOT_YAML} 3, column 4: {TAB}", tab_fix(3)),
    ("team: acme\r\tkind: x\r", f"{NOT_YAML} 2, column 1: {TAB}", tab_fix(2)),  # old Mac breaks
    # quotes and brackets left open: where the parser gave up and where the thing began
    (
        'team: "acme\nclusters: []\n',
        f"{NOT_YAML} 3, column 1: found unexpected end of stream "
        "(while scanning a quoted scalar from line 1, column 7)",
        spaces_fix("lines 1 to 3"),
    ),
    (
        "kind: ClusterCatalog\nteam: 'acme\n",
        f"{NOT_YAML} 3, column 1: found unexpected end of stream "
        "(while scanning a quoted scalar from line 2, column 7)",
        spaces_fix("lines 2 to 3"),
    ),
    (
        "a: [1,\n",
        f"{NOT_YAML} 2, column 1: did not find expected node content",
        spaces_fix("line 2"),
    ),
    ("a: [1,", f"{NOT_YAML} 2, column 1: did not find expected node content", spaces_fix("line 2")),
    (
        "a: {b: 1\n",
        f"{NOT_YAML} 2, column 1: did not find expected ',' or '}}' "
        "(while parsing a flow mapping from line 1, column 4)",
        spaces_fix("lines 1 to 2"),
    ),
    # indentation that does not line up
    (
        "clusters:\n  - name: prod\n   server: https://x\n",
        f"{NOT_YAML} 3, column 4: did not find expected '-' indicator "
        "(while parsing a block collection from line 2, column 3)",
        spaces_fix("lines 2 to 3"),
    ),
    (
        "team: acme\n  kind: ClusterCatalog\n",
        f"{NOT_YAML} 2, column 7: mapping values are not allowed in this context",
        spaces_fix("line 2"),
    ),
    (
        "team: acme: corp\n",
        f"{NOT_YAML} 1, column 11: mapping values are not allowed in this context",
        spaces_fix("line 1"),
    ),
    # more than one document
    (
        "team: a\n---\nteam: b\n",
        "catalog cat.yaml holds more than one YAML document (the second from line 2)",
        "keep one: a catalog is one document; delete the `---` at line 2 and merge what follows "
        "into the first, or delete it (see docs/catalog.md)",
    ),
    (
        "---\nteam: a\nclusters: []\n---\n",
        "catalog cat.yaml holds more than one YAML document (the second from line 4)",
        "keep one: a catalog is one document; delete the `---` at line 4 and merge what follows "
        "into the first, or delete it (see docs/catalog.md)",
    ),
    # what the YAML says rather than how it is written
    (
        "team: a\nkind: x\nteam: b\n",
        f"{NOT_YAML} 3, column 1: duplicate key 'team' (YAML keys must be unique; keep one)",
        "fix line 3 (see docs/catalog.md for the format)",
    ),
    (
        "team: !vault abc\n",
        f"{NOT_YAML} 1, column 7: could not determine a constructor for the tag '!vault'",
        "fix line 1 (see docs/catalog.md for the format)",
    ),
    # a character YAML never allows, found by its place (libyaml counts bytes: "é" is 2)
    (
        "team: a\x07b\n",
        f"{NOT_YAML} 1, column 8: the character U+0007 is not allowed in YAML",
        "delete that character at line 1 (a catalog is plain text)",
    ),
    (
        "kind: x\nteam: é\x1b\n",
        f"{NOT_YAML} 2, column 8: the character U+001B is not allowed in YAML",
        "delete that character at line 2 (a catalog is plain text)",
    ),
    (
        "\nteam: a\x07b\n",  # after a first empty line
        f"{NOT_YAML} 2, column 8: the character U+0007 is not allowed in YAML",
        "delete that character at line 2 (a catalog is plain text)",
    ),
    (
        "kind: x\nclusters: []\nteam: a\x07b\nzz: \x07\n",  # the first of two
        f"{NOT_YAML} 3, column 8: the character U+0007 is not allowed in YAML",
        "delete that character at line 3 (a catalog is plain text)",
    ),
    (
        "\x00",
        f"{NOT_YAML} 1, column 1: the character U+0000 is not allowed in YAML",
        "delete that character at line 1 (a catalog is plain text)",
    ),
    (
        "team: \ufffe\n",
        f"{NOT_YAML} 1, column 7: the character U+FFFE is not allowed in YAML",
        "delete that character at line 1 (a catalog is plain text)",
    ),
]


@pytest.mark.parametrize(("text", "message", "fix"), UNUSABLE_DOCUMENTS)
def test_unusable_documents(text: str, message: str, fix: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    error = caught.value
    assert (error.message, error.fix) == (message, fix)
    assert error.exit_code == EXIT_INVALID_INPUT and not error.details


def test_the_size_limit() -> None:
    from ztctl.core.catalog_parse import MAX_CATALOG_BYTES

    with pytest.raises(InvalidInput) as caught:
        parse("#" * MAX_CATALOG_BYTES)  # at the limit: read (and only a comment)
    assert caught.value.message == "catalog cat.yaml is empty"
    with pytest.raises(InvalidInput) as caught:
        parse("#" * (MAX_CATALOG_BYTES + 1))
    assert (caught.value.message, caught.value.fix) == (
        "catalog cat.yaml is larger than 4 MiB",
        "point --catalog at the catalog YAML file (see docs/catalog.md)",
    )


def test_an_alias_is_named_with_its_place() -> None:
    text = document(cluster()) + "extra: &x 1\nmore: *x\n"
    line = text.count("\n")  # the last line
    with pytest.raises(InvalidInput) as caught:
        parse(text)
    assert (caught.value.message, caught.value.fix) == (
        f"catalog cat.yaml uses a YAML alias (*'x') at line {line}, column 7",
        "write the value out in full: catalogs may not use anchors and aliases",
    )


def test_without_libyaml_the_python_parser_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    text = document(cluster(), cluster(name="dev"))
    expected = parse(text)
    monkeypatch.delattr(yaml, "CSafeLoader")
    assert parse(text) == expected


def test_a_yaml_error_without_a_place_is_still_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyYAML errors carry their place; one that does not is shown as PyYAML words it."""

    def broken(*_args: object, **_kwargs: object) -> object:
        raise yaml.YAMLError("the stream broke\nsecond line")

    monkeypatch.setattr(yaml, "parse", broken)
    with pytest.raises(InvalidInput) as caught:
        parse("team: acme\n")
    assert (caught.value.message, caught.value.fix) == (
        "catalog cat.yaml is not valid YAML: the stream broke",
        "see docs/catalog.md for the format",
    )


def test_a_valid_catalog_has_no_warnings_and_keeps_its_source() -> None:
    catalog = parse(document(cluster(), cluster(name="dev")))
    assert catalog.team == "acme" and catalog.source == "cat.yaml"
    assert catalog.names == ["prod", "dev"] and catalog.warnings == ()


# -- invisible, format and line-separator characters (hostile finding 11) ----------------
# Unicode categories Cc (tab and line breaks aside), Cf, Zl and Zp are refused in every
# string; the message names the character escaped, its code point and where it is.

INVISIBLE_ROWS = [
    (
        {"credentials": {"exec": {"command": "kubelogin", "args": ["get-token\u2028/tmp/pwn"]}}},
        "clusters[0].credentials.exec.args[0]",
        "U+2028 (LINE SEPARATOR), at character 10",
    ),
    (
        {"credentials": {"exec": {"command": "kube\u200blogin"}}},
        "clusters[0].credentials.exec.command",
        "U+200B (ZERO WIDTH SPACE), at character 5",
    ),
    (
        {"breakGlass": {"ssh": {"host": "bastion.acme.net", "user": "ops\u2029x"}}},
        "clusters[0].breakGlass.ssh.user",
        "U+2029 (PARAGRAPH SEPARATOR), at character 4",
    ),
    (
        {"server": "https://k8s\u200d.acme.net:6443"},
        "clusters[0].server",
        "U+200D (ZERO WIDTH JOINER), at character 12",
    ),
    (
        {"addresses": ["203.0.113.10\ufeff"]},
        "clusters[0].addresses[0]",
        "U+FEFF (ZERO WIDTH NO-BREAK SPACE), at character 13",
    ),
    (
        {"breakGlass": {"vpn": {"up": ["wg-quick", "up", "wg\u00ad0"], "down": ["true"]}}},
        "clusters[0].breakGlass.vpn.up[2]",
        "U+00AD (SOFT HYPHEN), at character 3",
    ),
    (
        {"breakGlass": {"vpn": {"up": ["true"], "down": ["x\u200fy"], "interface": "lo"}}},
        "clusters[0].breakGlass.vpn.down[0]",
        "U+200F (RIGHT-TO-LEFT MARK), at character 2",
    ),
    (
        {"credentials": {"exec": {"command": "k", "env": {"A": "v\u2060"}}}},
        "clusters[0].credentials.exec.env.A",
        "U+2060 (WORD JOINER), at character 2",
    ),
    (
        {"namespace": "team\U000e0041"},
        "clusters[0].namespace",
        "U+E0041 (TAG LATIN CAPITAL LETTER A), at character 5",
    ),
    (
        {"credentials": {"accessToken": {"app": "https://ok\x1bx.acme.net"}}},
        "clusters[0].credentials.accessToken.app",
        "U+001B (a control character), at character 11",
    ),
]


@pytest.mark.parametrize(("changes", "where", "what"), INVISIBLE_ROWS)
def test_invisible_and_separator_characters_are_refused_with_where_and_which(
    changes: dict[str, Any], where: str, what: str
) -> None:
    found = [p for p in problems(document(cluster(**changes))) if "U+" in p]
    assert len(found) == 1, found
    assert f": {where}: " in found[0], found[0]
    assert f"has an invisible, control or bidi character, {what}" in found[0]
    assert not any(c in found[0] for c in "\u2028\u2029\u200b\u200d\ufeff\u00ad\x1b")


def test_invisible_characters_in_the_team_are_refused() -> None:
    found = problems(document(cluster(), team="ac\u200bme"))
    assert found == [
        "cat.yaml: team: 'ac\\u200bme' has an invisible, control or bidi character, "
        "U+200B (ZERO WIDTH SPACE), at character 3 (none is allowed in a catalog)"
    ]


def test_printable_unicode_tabs_and_line_breaks_stay_allowed() -> None:
    script = "echo 'Prod – Zürich, 東京 🚀'\n\tsecond line\r\n"
    changes = {
        "breakGlass": {"vpn": {"up": ["sh", "-c", script], "down": ["true"], "interface": "wg0"}}
    }
    route = parse(document(cluster(**changes))).clusters[0].break_glass
    assert route is not None and isinstance(route.route, VpnRoute)
    assert route.route.up == ("sh", "-c", script)
