"""The lab API server over real TLS: routes, faults, authentication, endpoints."""

from __future__ import annotations

import email.utils
import json
import re
import socket
import ssl
import time

import pytest

from ztctl.lab.pki import GATEWAY_CA_PREFIX

from .client import TIMEOUT, connection, read_token, request, send

SHORT = 0.5  # how long to wait for an answer a black hole never gives


def test_direct_request_takes_the_zero_trust_route(lab) -> None:
    reply = request(lab.paths, lab.api_port, "/readyz")
    assert (reply.status, reply.text, reply.route) == (200, "ok", "zero-trust")


def test_request_through_the_bastion_takes_the_break_glass_route(lab) -> None:
    reply = request(lab.paths, lab.api_port, "/readyz", proxy_port=lab.bastion_port)
    assert (reply.status, reply.route) == (200, "break-glass")


def test_self_subject_review_names_user_groups_and_route(lab) -> None:
    body = json.dumps(
        {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1", "metadata": {}}
    ).encode()
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    reply = request(lab.paths, lab.api_port, path, method="POST", body=body)
    assert reply.status == 201
    review = reply.json()
    assert review["kind"] == "SelfSubjectReview"
    user = review["status"]["userInfo"]
    assert user["username"] == "lab-admin"
    assert user["groups"] == ["system:masters", "system:authenticated"]
    assert user["extra"]["ztctl.lab/route"] == ["zero-trust"]


def test_no_credentials_is_a_401_status_outside_health_endpoints(lab) -> None:
    reply = request(lab.paths, lab.api_port, "/api/v1/namespaces", cert=None)
    assert reply.status == 401
    assert reply.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    # Health and version stay public, like system:public-info-viewer.
    assert request(lab.paths, lab.api_port, "/readyz", cert=None).status == 200
    assert request(lab.paths, lab.api_port, "/version", cert=None).status == 200


@pytest.mark.parametrize("variant", ["client-expired", "client-notyet"])
def test_out_of_date_client_certificate_is_a_401_even_on_readyz(lab, variant: str) -> None:
    for path in ("/readyz", "/api"):
        reply = request(lab.paths, lab.api_port, path, cert=variant)
        assert reply.status == 401, path
        assert reply.json()["reason"] == "Unauthorized"


def test_client_cert_fault_swaps_the_certificate_the_kubeconfig_uses(lab) -> None:
    valid = lab.paths.client_cert.read_bytes()
    lab.set(client_cert="expired")
    assert lab.paths.client_cert.read_bytes() == (lab.paths.pki / "client-expired.crt").read_bytes()
    assert request(lab.paths, lab.api_port, "/api").status == 401
    lab.reset()
    assert lab.paths.client_cert.read_bytes() == valid
    assert request(lab.paths, lab.api_port, "/api").status == 200


def test_static_bearer_token_authenticates_and_a_wrong_one_does_not(lab) -> None:
    token = read_token(lab.paths)
    ok = request(lab.paths, lab.api_port, "/api/v1/namespaces", cert=None, token=token)
    assert ok.status == 200
    names = [item["metadata"]["name"] for item in ok.json()["items"]]
    assert "default" in names and "kube-system" in names
    bad = request(lab.paths, lab.api_port, "/api/v1/namespaces", cert=None, token="not-" + token)
    assert bad.status == 401


def test_readyz_verbose_lists_checks(lab) -> None:
    reply = request(lab.paths, lab.api_port, "/readyz?verbose")
    lines = reply.text.splitlines()
    assert reply.status == 200
    assert lines[0] == "[+]ping ok"
    assert "[+]etcd ok" in lines
    assert lines[-1] == "readyz check passed"


def test_api_not_ready_fails_readyz_with_500_and_failing_lines(lab) -> None:
    lab.set(api="notready")
    reply = request(lab.paths, lab.api_port, "/readyz?verbose")
    assert reply.status == 500
    assert "[-]etcd-readiness failed: reason withheld" in reply.text.splitlines()
    assert reply.text.splitlines()[-1] == "readyz check failed"
    # Not verbose: still the list and 500, as kube-apiserver does on failure.
    assert request(lab.paths, lab.api_port, "/readyz").status == 500
    # Excluding the failing checks passes; liveness is unaffected.
    excluded = request(
        lab.paths, lab.api_port, "/readyz?exclude=etcd-readiness&exclude=informer-sync"
    )
    assert (excluded.status, excluded.text) == (200, "ok")
    assert request(lab.paths, lab.api_port, "/livez").status == 200


def test_version_and_discovery_documents(lab) -> None:
    version = request(lab.paths, lab.api_port, "/version").json()
    assert (version["major"], version["minor"]) == ("1", "32")
    assert re.fullmatch(r"v1\.32\.\d+", version["gitVersion"])
    assert version["platform"] == "linux/amd64"
    api = request(lab.paths, lab.api_port, "/api").json()
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    groups = request(lab.paths, lab.api_port, "/apis").json()
    assert [g["name"] for g in groups["groups"]] == ["authentication.k8s.io"]
    missing = request(lab.paths, lab.api_port, "/api/v1/services")  # only the basics
    assert missing.status == 404 and missing.json()["reason"] == "NotFound"


def test_keep_alive_serves_several_requests_on_one_connection(lab) -> None:
    conn = connection(lab.paths, lab.api_port)
    try:
        first = send(conn, "/livez")
        sock = conn.sock
        second = send(conn, "/version")
        assert conn.sock is sock  # not reconnected
    finally:
        conn.close()
    assert (first.status, second.status) == (200, 200)


def test_clock_skew_shifts_the_date_header(lab) -> None:
    lab.set(clock_skew="3600")
    reply = request(lab.paths, lab.api_port, "/livez")
    served = email.utils.parsedate_to_datetime(reply.headers["date"]).timestamp()
    assert abs(served - time.time() - 3600) < 120


def _tls_handshake(port: int, timeout: float) -> ssl.SSLSocket:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return context.wrap_socket(raw, server_hostname="localhost")


def test_blackhole_accepts_and_never_answers(lab) -> None:
    lab.set(zt_path="blackhole")
    with pytest.raises(TimeoutError):
        _tls_handshake(lab.api_port, SHORT)
    # The break-glass route is out of band: unaffected.
    reply = request(lab.paths, lab.api_port, "/readyz", proxy_port=lab.bastion_port)
    assert (reply.status, reply.route) == (200, "break-glass")


def test_reset_closes_with_rst(lab) -> None:
    lab.set(zt_path="reset")
    with pytest.raises(ConnectionResetError):
        _tls_handshake(lab.api_port, TIMEOUT)


@pytest.mark.parametrize(
    "fault",
    [
        "warp.connected=false",
        "warp.registered=false",
        "warp.team=other",
        "warp.mode=proxy",
        "warp.daemon=off",
        "warp.split=exclude-cluster",
        "warp.split=include-other",
    ],
)
def test_zero_trust_path_needs_warp_to_route_the_cluster(lab, fault: str) -> None:
    lab.set_many(fault)
    with pytest.raises(TimeoutError):
        _tls_handshake(lab.api_port, SHORT)


def test_split_tunnel_including_the_cluster_routes(lab) -> None:
    lab.set_many("warp.split=include-cluster")
    assert request(lab.paths, lab.api_port, "/livez").status == 200


def test_kept_alive_connection_goes_silent_when_the_path_goes_down(lab) -> None:
    conn = connection(lab.paths, lab.api_port, timeout=SHORT)
    try:
        assert send(conn, "/livez").status == 200
        lab.set(zt_path="blackhole")
        with pytest.raises(TimeoutError):
            send(conn, "/livez")
    finally:
        conn.close()


# The real Gateway CA names exceed X.520's 64-character bound; cryptography warns on reading.
@pytest.mark.filterwarnings("ignore:Attribute's length")
def test_tls_inspection_presents_the_gateway_named_chain(lab) -> None:
    lab.set(inspection=True)
    with _tls_handshake(lab.api_port, TIMEOUT) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    issuer = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert re.fullmatch(re.escape(GATEWAY_CA_PREFIX) + r" [0-9a-f]{32}", str(issuer))
    # The lab CA does not trust it, so a verifying client fails like kubectl does.
    with pytest.raises(ssl.SSLCertVerificationError):
        request(lab.paths, lab.api_port, "/livez")
    # Gateway cannot pass a client certificate through: only bearer tokens authenticate.
    no_cert = request(lab.paths, lab.api_port, "/api", verify=False)
    assert no_cert.status == 401
    token = request(
        lab.paths, lab.api_port, "/api", verify=False, cert=None, token=read_token(lab.paths)
    )
    assert token.status == 200
    # Break-glass does not go through Gateway: the real chain.
    assert request(lab.paths, lab.api_port, "/livez", proxy_port=lab.bastion_port).status == 200


def test_a_stalled_tls_client_does_not_block_others(lab) -> None:
    stalled = [
        socket.create_connection(("127.0.0.1", lab.api_port), timeout=TIMEOUT) for _ in range(3)
    ]
    try:
        stalled[0].sendall(b"\x16\x03\x01\x02\x00")  # the start of a ClientHello, then nothing
        reply = request(lab.paths, lab.api_port, "/readyz")
        assert reply.status == 200
    finally:
        for sock in stalled:
            sock.close()


def test_kubernetes_python_client_reads_version_with_the_lab_kubeconfig(lab) -> None:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=str(lab.kubeconfig))
    try:
        info = client.VersionApi(api_client).get_code()
    finally:
        api_client.close()
    assert info.major == "1" and info.minor == "32"


def test_access_jwt_from_the_cloudflared_stand_in_authenticates(lab) -> None:
    import importlib

    if not hasattr(importlib.import_module("ztctl.lab.edge"), "verify_access_jwt"):
        pytest.skip("this lab build has no Access JWT verification (ztctl.lab.edge)")
    cloudflared = lab.paths.bin / "cloudflared"
    login = lab.run([cloudflared, "access", "login", "--quiet", lab.server])
    assert login.returncode == 0, login.stderr
    token = lab.run([cloudflared, "access", "token", f"-app={lab.server}"])
    assert token.returncode == 0, token.stderr
    body = b'{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1"}'
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    reply = request(
        lab.paths, lab.api_port, path, method="POST", body=body, cert=None, token=token.stdout
    )
    assert reply.status == 201
    assert reply.json()["status"]["userInfo"]["username"] == lab.state().access.email
    tampered = token.stdout[:-4] + ("AAAA" if not token.stdout.endswith("AAAA") else "BBBB")
    assert request(lab.paths, lab.api_port, "/api", cert=None, token=tampered).status == 401


def test_bearer_jwt_claims_become_the_user(tmp_path, monkeypatch) -> None:
    """The API server's side of Access JWTs, with the edge's verifier replaced."""
    import importlib

    from ztctl.lab.apiserver import ApiServer
    from ztctl.lab.env import LabPaths
    from ztctl.lab.pki import ensure_pki

    edge = importlib.import_module("ztctl.lab.edge")
    claims = {"email": "ada@lab.example", "sub": "5a3e", "groups": ["sre"]}
    seen: list[str] = []

    def verify(lab_dir, token):
        seen.append(token)
        return claims if token == "good.jwt.token" else None

    monkeypatch.setattr(edge, "verify_access_jwt", verify, raising=False)
    pki = ensure_pki(tmp_path)
    server = ApiServer(tmp_path, pki)
    server.start()
    try:
        paths = LabPaths.of(tmp_path)
        path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
        ok = request(paths, server.port, path, method="POST", cert=None, token="good.jwt.token")
        bad = request(paths, server.port, "/api", cert=None, token="bad.jwt.token")
    finally:
        server.stop()
    assert ok.status == 201
    user = ok.json()["status"]["userInfo"]
    assert (user["username"], user["uid"]) == ("ada@lab.example", "5a3e")
    assert user["groups"] == ["sre", "system:authenticated"]
    assert bad.status == 401
    assert seen == ["good.jwt.token", "bad.jwt.token"]


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_black_hole_lets_go_when_the_client_gives_up(tmp_path) -> None:
    from ztctl.lab import state as lab_state
    from ztctl.lab.apiserver import ApiServer
    from ztctl.lab.pki import ensure_pki

    with lab_state.update(tmp_path) as current:
        current.faults.zt_path = "blackhole"
    server = ApiServer(tmp_path, ensure_pki(tmp_path))
    server.start()
    try:
        client = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        client.sendall(b"\x16\x03\x01\x00\x05hello")  # swallowed, never answered
        assert _wait_for(lambda: server.connection_count == 1)
        client.close()
        assert _wait_for(lambda: server.connection_count == 0)
    finally:
        server.stop()
