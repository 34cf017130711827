"""The catalog (docs/catalog.md): the sample, every kind of bad input, and https with a cache."""

from __future__ import annotations

import base64
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ztctl.core.catalog import load_catalog, parse_catalog
from ztctl.core.model import AccessToken, ClientCertificate, ExecCredential, ProxyRoute, SshRoute
from ztctl.errors import InvalidInput

DOCS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "catalog.yaml"

GOOD = """
apiVersion: ztctl/v1
kind: ClusterCatalog
team: acme
clusters:
  - name: prod-eu
    server: https://k8s.prod-eu.acme.net:6443
    addresses: [203.0.113.10]
    certificateAuthority: ca/prod-eu.pem
    credentials:
      clientCertificate: ~/.acme/prod-eu.crt
      clientKey: keys/prod-eu.key
"""


def parse(text: str, base: Path | None = Path("/catalogs")) -> object:
    return parse_catalog(text, source="catalog.yaml", label="catalog.yaml", base_dir=base)


def problems_of(text: str) -> str:
    with pytest.raises(InvalidInput) as info:
        parse(text)
    assert info.value.exit_code == 3
    assert info.value.fix
    return "\n".join([info.value.message, *info.value.details])


def test_sample_catalog_in_docs_is_valid(tmp_path: Path) -> None:
    catalog = load_catalog(str(DOCS), tmp_path)
    assert catalog.team == "acme"
    assert catalog.names == ["prod-eu", "staging", "dev"]
    prod, staging, dev = catalog.clusters
    assert isinstance(prod.credentials, ClientCertificate)
    assert prod.certificate_authority == DOCS.parent / "ca" / "prod-eu.pem"
    assert prod.credentials.certificate == Path("~/.acme/prod-eu.crt").expanduser()
    assert prod.break_glass is not None and prod.break_glass.max_ttl_s == 4 * 3600
    assert prod.break_glass.route == ProxyRoute("socks5://127.0.0.1:1080")
    assert isinstance(staging.credentials, AccessToken)
    assert staging.break_glass is not None and staging.break_glass.max_ttl_s == 3600
    assert isinstance(staging.break_glass.route, SshRoute)
    assert staging.break_glass.route.port == 22
    assert isinstance(dev.credentials, ExecCredential)
    assert dev.credentials.command == "kubelogin"
    assert dev.break_glass is None


def test_relative_paths_resolve_against_the_catalog_and_tilde_expands() -> None:
    catalog = parse(GOOD)
    cluster = catalog.clusters[0]  # type: ignore[attr-defined]
    assert cluster.certificate_authority == Path("/catalogs/ca/prod-eu.pem")
    assert cluster.credentials.key == Path("/catalogs/keys/prod-eu.key")
    assert cluster.credentials.certificate == Path.home() / ".acme/prod-eu.crt"
    assert cluster.host == "k8s.prod-eu.acme.net" and cluster.port == 6443


def test_ca_data_is_accepted_when_it_is_base64_pem() -> None:
    pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    text = GOOD.replace(
        "certificateAuthority: ca/prod-eu.pem",
        f"certificateAuthorityData: {base64.b64encode(pem).decode()}",
    )
    cluster = parse(text).clusters[0]  # type: ignore[attr-defined]
    assert cluster.ca_pem() == pem


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (
            (
                "server: https://k8s.prod-eu.acme.net:6443",
                "server: http://k8s.prod-eu.acme.net:6443",
            ),
            "must use https://",
        ),
        (
            ("addresses: [203.0.113.10]", "addresses: [k8s.example]"),
            "'k8s.example' is not an IP address",
        ),
        (
            ("addresses: [203.0.113.10]", "adresses: [203.0.113.10]"),
            "unknown field (did you mean 'addresses'?)",
        ),
        (
            (
                "certificateAuthority: ca/prod-eu.pem",
                "certificateAuthority: ca/prod-eu.pem\n    certificateAuthorityData: eA==",
            ),
            "both certificateAuthority and certificateAuthorityData",
        ),
        (
            ("certificateAuthority: ca/prod-eu.pem", "certificateAuthorityData: '%%%'"),
            "not valid base64",
        ),
        (
            ("certificateAuthority: ca/prod-eu.pem", "certificateAuthorityData: aGVsbG8="),
            "does not decode to a PEM certificate",
        ),
        (("name: prod-eu", "name: Prod_EU!"), "is not a valid name"),
        (("kind: ClusterCatalog", "kind: Catalog"), "kind: must be 'ClusterCatalog'"),
        (("apiVersion: ztctl/v1", "apiVersion: v1"), "apiVersion: must be 'ztctl/v1'"),
        (("team: acme", "team: 7"), "team: must be the Zero Trust team name"),
        (
            ("      clientKey: keys/prod-eu.key\n", ""),
            "clientKey: is required with clientCertificate",
        ),
        (
            (
                "      clientCertificate: ~/.acme/prod-eu.crt\n      clientKey: keys/prod-eu.key\n",
                "      exec: {command: kubelogin}\n      accessToken: {app: https://x}\n",
            ),
            "has exec and accessToken; keep exactly one",
        ),
        (("    credentials:", "    credentails:"), "unknown field (did you mean 'credentials'?)"),
        (
            (
                "      clientKey: keys/prod-eu.key\n",
                "      clientKey: keys/prod-eu.key\n    breakGlass: {proxy: ftp://x:1}\n",
            ),
            "must be socks5://HOST:PORT",
        ),
        (
            (
                "      clientKey: keys/prod-eu.key\n",
                "      clientKey: keys/prod-eu.key\n    breakGlass: {maxTtl: 4, proxy: socks5://x:1}\n",
            ),
            "has no unit",
        ),
        (
            (
                "      clientKey: keys/prod-eu.key\n",
                "      clientKey: keys/prod-eu.key\n    breakGlass: {maxTtl: 1h}\n",
            ),
            "needs exactly one of proxy, ssh, vpn",
        ),
        (
            (
                "      clientKey: keys/prod-eu.key\n",
                "      clientKey: keys/prod-eu.key\n    breakGlass: {ssh: {host: b, prot: 22}}\n",
            ),
            "unknown field (did you mean 'port'?)",
        ),
        (
            (
                "      clientKey: keys/prod-eu.key\n",
                "      clientKey: keys/prod-eu.key\n    namespace: Not_A_Label\n",
            ),
            "is not a valid namespace",
        ),
    ],
)
def test_bad_catalogs_name_file_cluster_and_field(mutation: tuple[str, str], expected: str) -> None:
    old, new = mutation
    assert old in GOOD
    text = problems_of(GOOD.replace(old, new))
    assert expected in text
    assert "catalog.yaml" in text


def test_duplicate_names_are_rejected() -> None:
    body = GOOD.split("clusters:\n", 1)[1]
    text = problems_of(GOOD + body)
    assert "clusters[1] (prod-eu): duplicate name; clusters[0] has it already" in text


def test_a_duplicate_with_other_problems_is_still_named_a_duplicate() -> None:
    body = GOOD.split("clusters:\n", 1)[1].replace("https://k8s", "http://k8s")
    text = problems_of(GOOD + body)
    assert "clusters[1] (prod-eu): duplicate name; clusters[0] has it already" in text
    assert "must use https://" in text


def test_every_problem_is_listed_at_once() -> None:
    text = (
        GOOD.replace("http", "ftp")
        .replace("203.0.113.10", "nope")
        .replace("kind: ClusterCatalog", "kind: X")
    )
    with pytest.raises(InvalidInput) as info:
        parse(text)
    assert "3 problems" in info.value.message
    assert len(info.value.details) == 3


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty"),
        ("clusters: [\n", "is not valid YAML at line"),
        ("- just\n- a list\n", "must be a mapping"),
        (b"\x00\xff\xfe", "not UTF-8 text"),
    ],
)
def test_unusable_files(tmp_path: Path, content: str | bytes, expected: str) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InvalidInput, match=expected):
        load_catalog(str(path), tmp_path / "state")


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_catalog(str(tmp_path / "nope.yaml"), tmp_path)
    with pytest.raises(InvalidInput, match="is a directory"):
        load_catalog(str(tmp_path), tmp_path)


def test_http_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="is not https") as info:
        load_catalog("http://127.0.0.1:9/clusters.yaml", tmp_path)
    assert "https://127.0.0.1:9/clusters.yaml" in info.value.fix


# --- https catalogs --------------------------------------------------------------------

URL_CATALOG = GOOD.replace(
    "certificateAuthority: ca/prod-eu.pem", "certificateAuthority: /etc/acme/ca.pem"
).replace("keys/prod-eu.key", "~/.acme/prod-eu.key")


class CatalogServer:
    def __init__(self, tls_dir: Path) -> None:
        from ztctl.lab.pki import ensure_pki

        pki = ensure_pki(tls_dir)
        self.ca_file = pki.ca_cert
        self.body = URL_CATALOG.encode()
        self.etag = '"v1"'
        self.requests: list[dict[str, str]] = []
        self.fail = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(dict(self.headers))
                if outer.fail:
                    self.send_response(503)
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == outer.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", outer.etag)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.server_cert, pki.server_key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}/clusters.yaml"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def catalog_server(tmp_path: Path) -> Iterator[CatalogServer]:
    server = CatalogServer(tmp_path / "tls")
    yield server
    server.stop()


def test_https_catalog_is_fetched_cached_and_revalidated(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = {"SSL_CERT_FILE": str(catalog_server.ca_file)}
    first = load_catalog(catalog_server.url, state, env)
    assert first.names == ["prod-eu"] and first.warnings == ()
    assert "If-None-Match" not in catalog_server.requests[0]
    # The cache lives in a private state directory.
    cache = state / "catalog-cache"
    assert oct(state.stat().st_mode & 0o777) == "0o700"
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in cache.iterdir())

    second = load_catalog(catalog_server.url, state, env)
    assert second.names == ["prod-eu"]
    assert catalog_server.requests[1]["If-None-Match"] == '"v1"'


def test_unreachable_url_falls_back_to_the_last_good_copy(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = {"SSL_CERT_FILE": str(catalog_server.ca_file)}
    load_catalog(catalog_server.url, state, env)
    catalog_server.fail = True
    fallback = load_catalog(catalog_server.url, state, env)
    assert fallback.names == ["prod-eu"]
    assert len(fallback.warnings) == 1
    assert "unreachable (HTTP 503); using the copy cached" in fallback.warnings[0]
    assert "ago" in fallback.warnings[0]


def test_unreachable_url_without_a_cache_is_invalid_input(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    catalog_server.fail = True
    with pytest.raises(InvalidInput, match="cannot fetch catalog"):
        load_catalog(
            catalog_server.url, tmp_path / "state", {"SSL_CERT_FILE": str(catalog_server.ca_file)}
        )


def test_untrusted_certificate_is_not_accepted(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="cannot fetch catalog"):
        load_catalog(catalog_server.url, tmp_path / "state", {})


def test_a_bad_catalog_from_the_url_is_not_cached(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    env = {"SSL_CERT_FILE": str(catalog_server.ca_file)}
    catalog_server.body = b"apiVersion: nope\n"
    with pytest.raises(InvalidInput):
        load_catalog(catalog_server.url, state, env)
    assert not (state / "catalog-cache").exists() or not any((state / "catalog-cache").iterdir())


def test_relative_ca_path_in_a_url_catalog_is_a_problem() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_catalog(GOOD, source="https://x/c.yaml", label="https://x/c.yaml", base_dir=None)
    problems = info.value.details
    assert len(problems) == 2  # the CA and the client key; the ~ path is fine
    assert all("cannot be resolved" in p for p in problems)
