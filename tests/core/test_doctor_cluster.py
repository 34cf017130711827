"""The per-cluster layers on the lab: DNS, route, credentials, TCP, TLS, API, auth — each
passing on the healthy lab and failing, with the right fix, under its fault."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest

from tests.core.doctor_lab import (
    doctor,
    lab_cluster_entry,
    lab_context,
    result,
    write_catalog,
)
from ztctl.core.doctor import run_doctor

CLUSTER_IDS = (
    "cluster.dns",
    "cluster.route",
    "cluster.credentials",
    "cluster.tcp",
    "cluster.tls",
    "cluster.api",
    "cluster.auth",
)
BREAK_GLASS = "ztctl break-glass start lab --reason"


def test_every_layer_passes_on_the_healthy_lab(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab)
    for check_id in CLUSTER_IDS:
        r = result(report, check_id, "lab")
        assert r.status == "pass", (check_id, r.summary)
    assert "127.0.0.1" in result(report, "cluster.dns", "lab").summary
    assert "lo" in result(report, "cluster.route", "lab").summary
    assert "key matches" in result(report, "cluster.credentials", "lab").summary
    assert "verified against the cluster CA" in result(report, "cluster.tls", "lab").summary
    assert "v1.32" in result(report, "cluster.api", "lab").summary
    assert "lab-admin" in result(report, "cluster.auth", "lab").summary
    # the kubeconfig entry is what was checked (kubectl's view), not only the catalog
    assert result(report, "cluster.credentials", "lab").data["source"] == "kubeconfig"
    assert report.ok


def test_tls_inspection_is_named_with_the_do_not_inspect_fix(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "inspection=on")
    tls = result(report, "cluster.tls", "lab")
    assert tls.status == "fail"
    assert "Gateway CA - Cloudflare Managed" in tls.summary
    assert "Do Not Inspect" in tls.fix and "127.0.0.1" in tls.fix
    assert BREAK_GLASS in tls.fix
    assert tls.data["certificate"]["inspectedBy"].startswith("Gateway CA")
    for check_id in ("cluster.api", "cluster.auth"):
        r = result(report, check_id, "lab")
        assert r.status == "skip" and "cluster.tls failed" in r.summary


def test_expired_client_certificate(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "client-cert=expired")
    creds = result(report, "cluster.credentials", "lab")
    assert creds.status == "fail"
    assert "expired" in creds.summary
    assert "renewed client certificate" in creds.fix and "ztctl use-cluster lab" in creds.fix
    auth = result(report, "cluster.auth", "lab")
    assert auth.status == "fail" and "401" in auth.summary
    # the network and the server are fine, and doctor says so
    assert result(report, "cluster.tls", "lab").status == "pass"
    api = result(report, "cluster.api", "lab")
    assert api.status == "pass" and "refused yours" in api.summary


def test_api_not_ready(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "api=notready")
    api = result(report, "cluster.api", "lab")
    assert api.status == "fail"
    assert "not ready" in api.summary and "etcd-readiness" in api.summary
    assert "platform team" in api.fix
    auth = result(report, "cluster.auth", "lab")
    assert auth.status == "skip" and "cluster.api failed" in auth.summary


def test_black_holed_zero_trust_path_names_break_glass(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "zt-path=blackhole", timeout=1.0)
    failing = [r for r in report.results if r.status == "fail"]
    assert [r.key for r in failing] == ["cluster.tls@lab"]  # the lab accepts, then holds
    tls = failing[0]
    assert "no answer" in tls.summary
    assert "Zero Trust path beyond it is down" in tls.fix
    assert BREAK_GLASS in tls.fix
    assert tls.data["rootCause"] == "zero-trust-path"
    assert not report.deadline_hit
    for check_id in ("cluster.api", "cluster.auth"):
        assert result(report, check_id, "lab").status == "skip"


def test_reset_zero_trust_path(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "zt-path=reset")
    # On loopback the kernel completes the handshake before the lab resets the connection,
    # so the reset lands on TCP or on the TLS handshake.
    failing = [r for r in report.results if r.status == "fail"]
    assert len(failing) == 1 and failing[0].id in ("cluster.tcp", "cluster.tls")
    assert "reset" in failing[0].summary
    assert BREAK_GLASS in failing[0].fix
    assert result(report, "cluster.auth", "lab").summary.startswith(f"skipped: {failing[0].id}")


def test_warp_disconnected_is_named_as_the_cause_of_the_path_failure(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, "warp.connected=false", timeout=1.0)
    tls = result(report, "cluster.tls", "lab")
    assert tls.status == "fail"
    assert tls.fix.startswith("caused by warp.connected")
    assert "warp-cli connect" in tls.fix and BREAK_GLASS in tls.fix


def test_a_cluster_without_break_glass_does_not_mention_it(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = write_catalog(lab, tmp_path, [lab_cluster_entry(lab, "nobg", breakGlass=None)])
    lab.set_many("reset", "zt-path=reset")
    report = run_doctor(lab_context(lab, ("nobg",), catalog=catalog, kubeconfig=False))
    failing = [r for r in report.results if r.status == "fail"]
    assert len(failing) == 1 and failing[0].id in ("cluster.tcp", "cluster.tls")
    assert "platform team" in failing[0].fix and "break-glass" not in failing[0].fix


# -- DNS -------------------------------------------------------------------------------


def test_a_name_that_does_not_resolve_mentions_local_domain_fallback(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    port = lab.api_port
    catalog = write_catalog(
        lab,
        tmp_path,
        [lab_cluster_entry(lab, "internal", server=f"https://k8s.ztctl-test.internal:{port}")],
    )
    lab.reset()
    report = run_doctor(lab_context(lab, ("internal",), catalog=catalog, kubeconfig=False))
    dns = result(report, "cluster.dns", "internal")
    assert dns.status == "fail" and "does not resolve" in dns.summary
    assert "Local Domain Fallback" in dns.fix
    # `internal` is in WARP's default fallback list: the fix says that is why
    assert dns.data["localDomainFallback"] == "internal"
    assert "WARP sends names under `internal`" in dns.fix
    # the probe still dials the catalog address, so the later layers tell their own story
    assert result(report, "cluster.tcp", "internal").status == "pass"


def test_a_name_that_resolves_elsewhere_fails(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = write_catalog(
        lab, tmp_path, [lab_cluster_entry(lab, "stale", addresses=["127.0.0.9"])]
    )
    lab.reset()
    report = run_doctor(lab_context(lab, ("stale",), catalog=catalog, kubeconfig=False))
    dns = result(report, "cluster.dns", "stale")
    assert dns.status == "fail"
    assert "not to the catalog's 127.0.0.9" in dns.summary


# -- route ------------------------------------------------------------------------------


def test_route_through_another_interface_fails(lab) -> None:  # type: ignore[no-untyped-def]
    report = doctor(lab, interface="CloudflareWARP")
    route = result(report, "cluster.route", "lab")
    assert route.status == "fail"
    assert "127.0.0.1 leaves through lo" in route.summary and "CloudflareWARP" in route.summary
    assert route.data["routes"][0]["interface"] == "lo"


def test_route_is_moot_through_a_proxy(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = lab.bastion_kubeconfig(tmp_path / "kubeconfig")
    lab.reset()
    env = {**lab.env, "KUBECONFIG": str(kubeconfig)}
    ctx = lab_context(lab)
    ctx.env = env
    from ztctl.core.doctor import kubeconfig_targets
    from ztctl.core.kubeconfig.model import load_kubeconfig

    ctx.targets = kubeconfig_targets(ctx.clusters, load_kubeconfig(None, env))
    report = run_doctor(ctx)
    route = result(report, "cluster.route", "lab")
    assert route.status == "skip" and "through the proxy" in route.summary
    assert result(report, "cluster.auth", "lab").status == "pass"


# -- credentials --------------------------------------------------------------------------


def make_cert(tmp_path: Path, lab, days_left: float) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """A client certificate signed by the lab CA that expires in ``days_left`` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from ztctl.lab.pki import pki_for

    pki = pki_for(lab.dir)
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soon-expiring")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days_left))
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    cert_path, key_path = tmp_path / "c.crt", tmp_path / "c.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def credentials_of(lab, tmp_path: Path, credentials: dict) -> object:  # type: ignore[no-untyped-def,type-arg]
    catalog = write_catalog(lab, tmp_path, [lab_cluster_entry(lab, "c", credentials=credentials)])
    lab.reset()
    report = run_doctor(lab_context(lab, ("c",), catalog=catalog, kubeconfig=False))
    return report


def test_certificate_expiring_soon_warns(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = make_cert(tmp_path, lab, days_left=2)
    report = credentials_of(lab, tmp_path, {"clientCertificate": str(cert), "clientKey": str(key)})
    creds = result(report, "cluster.credentials", "c")  # type: ignore[arg-type]
    assert creds.status == "warn" and "expires in" in creds.summary
    assert result(report, "cluster.auth", "c").status == "pass"  # type: ignore[arg-type]


def test_missing_certificate_file_fails_and_auth_is_skipped(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "nope.crt"
    report = credentials_of(
        lab, tmp_path, {"clientCertificate": str(missing), "clientKey": str(lab.paths.client_key)}
    )
    creds = result(report, "cluster.credentials", "c")  # type: ignore[arg-type]
    assert creds.status == "fail" and "does not exist" in creds.summary
    auth = result(report, "cluster.auth", "c")  # type: ignore[arg-type]
    assert auth.status == "skip" and "cluster.credentials failed" in auth.summary
    # the path and the server were still checked, without credentials
    assert result(report, "cluster.api", "c").status == "pass"  # type: ignore[arg-type]


def test_key_that_does_not_match_fails(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _cert, other_key = make_cert(tmp_path, lab, days_left=30)
    report = credentials_of(
        lab,
        tmp_path,
        {"clientCertificate": str(lab.paths.client_cert), "clientKey": str(other_key)},
    )
    creds = result(report, "cluster.credentials", "c")  # type: ignore[arg-type]
    assert creds.status == "fail" and "does not belong to the certificate" in creds.summary


def test_missing_exec_plugin_fails(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = credentials_of(lab, tmp_path, {"exec": {"command": "no-such-kubelogin-xyz"}})
    creds = result(report, "cluster.credentials", "c")  # type: ignore[arg-type]
    assert creds.status == "fail" and "not installed" in creds.summary


def test_expired_bearer_token_in_the_kubeconfig(lab, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import time as _time

    from ztctl.lab.jwt import issue_token

    token = issue_token(lab.dir, lab.server, now=_time.time() - 7200, ttl_s=60)
    kubeconfig = tmp_path / "kubeconfig"
    ca = base64.b64encode(lab.paths.ca_cert.read_bytes()).decode()
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: lab\n"
        f"clusters:\n- name: lab\n  cluster:\n    server: {lab.server}\n"
        f"    certificate-authority-data: {ca}\n"
        f"users:\n- name: lab\n  user:\n    token: {token}\n"
        "contexts:\n- name: lab\n  context: {cluster: lab, user: lab}\n",
        encoding="utf-8",
    )
    lab.reset()
    env = {**lab.env, "KUBECONFIG": str(kubeconfig)}
    from ztctl.core.doctor import kubeconfig_targets
    from ztctl.core.kubeconfig.model import load_kubeconfig

    ctx = lab_context(lab, kubeconfig=False)
    ctx.env = env
    ctx.targets = kubeconfig_targets(ctx.clusters, load_kubeconfig(None, env))
    report = run_doctor(ctx)
    creds = result(report, "cluster.credentials", "lab")
    assert creds.status == "fail" and "expired" in creds.summary and "ztctl login" in creds.fix
    assert result(report, "cluster.auth", "lab").status == "fail"


@pytest.mark.parametrize("present", [True, False])
def test_access_token_cluster(access, present: bool) -> None:  # type: ignore[no-untyped-def]
    if present:
        access.put("lab-sso", access.mint())
    lab = access.lab
    lab.reset()
    ctx = lab_context(lab, ("lab-sso",), kubeconfig=False)
    ctx.env = access.env
    report = run_doctor(ctx)
    creds = result(report, "cluster.credentials", "lab-sso")
    if present:
        assert creds.status == "pass" and "Cloudflare Access token" in creds.summary
        auth = result(report, "cluster.auth", "lab-sso")
        assert auth.status == "pass", auth.summary
    else:
        assert creds.status == "fail" and "ztctl login" in creds.fix


from tests.support.access import access_fixture  # noqa: E402,F401
