"""The probe core against the lab: real TLS, real faults, real exec plugins."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Lab
from ztctl.adapters.execcred import ExecConfig
from ztctl.core.probe import (
    ProbeOptions,
    SampleEvent,
    Target,
    break_glass_path,
    probe,
    probe_cluster,
    target_from_cluster,
    target_from_kubeconfig,
    zero_trust_path,
)

from . import probe_lab as facts

TIMEOUT = 2.0


@pytest.fixture
def target(lab: Lab) -> Target:
    return target_from_cluster(facts.cluster(lab, "lab"))


def opts(**kwargs: Any) -> ProbeOptions:
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("allow_interactive", False)
    return ProbeOptions(**kwargs)


# --- healthy ---------------------------------------------------------------------------


def test_healthy_lab_is_ready_with_every_phase_timed(lab: Lab, target: Target) -> None:
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert result.problem is None, result.problem
    assert result.ok and result.exit_code == 0
    assert result.route == "zero-trust"
    assert result.address == "127.0.0.1" and result.address_in_catalog is True
    assert result.dns is not None and "127.0.0.1" in result.dns.addresses
    assert result.dns.matches_catalog is True
    t = result.timings
    for phase in (t.dns_ms, t.connect_ms, t.tls_ms, t.first_byte_ms, t.total_ms):
        assert phase is not None and phase >= 0
    assert t.total_ms >= t.tls_ms  # type: ignore[operator]
    assert result.readyz == "ok" and result.readyz_status == 200
    assert result.version == facts.kube_version()
    assert result.user == facts.client_user(lab) and "system:authenticated" in result.groups
    assert result.certificate is not None and result.certificate.verified
    assert result.certificate.issuer == facts.ca_subject(lab)
    assert result.certificate.not_after == facts.server_not_after(lab)


def test_json_document_has_the_contract_keys(target: Target) -> None:
    doc = probe_cluster(target, route="zero-trust", options=opts()).to_dict()
    for key in (
        "schemaVersion",
        "cluster",
        "route",
        "ok",
        "server",
        "address",
        "timings",
        "readyz",
        "version",
        "user",
        "certificate",
    ):
        assert key in doc
    assert set(doc["timings"]) >= {"dnsMs", "connectMs", "tlsMs", "firstByteMs", "totalMs"}
    assert set(doc["certificate"]) >= {"issuer", "notAfter"}
    assert "samples" not in doc  # only with --count
    json.dumps(doc)


def test_bearer_token_from_a_token_file(lab: Lab, target: Target) -> None:
    tok = replace(
        target, client_certificate=None, client_key=None, token_file=facts.pki(lab).token_file
    )
    result = probe(tok, zero_trust_path(tok), opts())
    assert result.ok, result.problem
    assert result.user == facts.bearer_user()
    assert result.credential == "token"


def test_kubeconfig_entry_with_data_fields(lab: Lab) -> None:
    import base64

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    catalog_cluster = facts.cluster(lab, "lab")
    t = target_from_kubeconfig(
        "lab",
        {
            "server": catalog_cluster.server,
            "certificate-authority-data": b64(facts.pki(lab).ca_cert),
        },
        {
            "client-certificate-data": b64(facts.pki(lab).client_cert),
            "client-key-data": b64(facts.pki(lab).client_key),
        },
        catalog_cluster=catalog_cluster,
    )
    result = probe_cluster(t, route="zero-trust", options=opts())
    assert result.ok, result.problem
    assert result.address_in_catalog is True
    assert result.user == facts.client_user(lab)


# --- Zero Trust path down --------------------------------------------------------------


def test_black_hole_returns_within_the_timeout_as_unreachable(lab: Lab, target: Target) -> None:
    lab.set_many("zt-path=blackhole")
    started = time.monotonic()
    result = probe_cluster(target, route="zero-trust", options=opts(timeout=1.0))
    elapsed = time.monotonic() - started
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "timeout"
    assert "no answer from 127.0.0.1" in result.problem.message
    assert "within 1s over WARP" in result.problem.message
    assert "ztctl doctor lab" in result.problem.fix
    assert "ztctl break-glass start lab" in result.problem.fix
    assert elapsed < 1.0 + 1.5  # bounded by --timeout (with slack for a loaded CI box)


def test_reset_is_unreachable(lab: Lab, target: Target) -> None:
    lab.set_many("zt-path=reset")
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "reset"
    assert "reset" in result.problem.message


def test_break_glass_route_works_while_the_direct_one_is_down(lab: Lab, target: Target) -> None:
    lab.set_many("zt-path=blackhole")
    result = probe_cluster(target, route="break-glass", options=opts())
    assert result.ok, result.problem
    assert result.route == "break-glass"
    assert result.via == lab.proxy_url
    assert result.timings.proxy_ms is not None
    assert result.user == facts.client_user(lab)


def test_auto_says_break_glass_would_work(lab: Lab, target: Target) -> None:
    lab.set_many("zt-path=reset")
    result = probe_cluster(target, route="auto", options=opts())
    assert result.exit_code == 5 and result.route == "zero-trust"
    assert result.break_glass is not None and result.break_glass.ok
    assert result.problem is not None
    assert "the break-glass route works" in result.problem.fix
    assert "ztctl break-glass start lab" in result.problem.fix
    assert result.problem.fix.startswith("run `ztctl doctor lab`")
    doc = result.to_dict()
    assert doc["breakGlass"]["ok"] is True and doc["breakGlass"]["route"] == "break-glass"


def test_auto_does_not_touch_break_glass_when_zero_trust_is_healthy(target: Target) -> None:
    result = probe_cluster(target, route="auto", options=opts())
    assert result.ok and result.break_glass is None


def test_auto_reports_a_failing_break_glass_route_too(lab: Lab, target: Target) -> None:
    from ztctl.core.model import BreakGlass, ProxyRoute

    lab.set_many("zt-path=reset")
    dead = replace(
        target, break_glass=BreakGlass(ProxyRoute(f"socks5://127.0.0.1:{facts.free_port()}"))
    )
    result = probe_cluster(dead, route="auto", options=opts())
    assert result.exit_code == 5
    assert result.break_glass is not None and not result.break_glass.ok
    assert result.problem is not None and "the break-glass route fails too" in result.problem.fix


def test_break_glass_without_a_route_is_explained(target: Target) -> None:
    none = replace(target, break_glass=None)
    result = probe_cluster(none, route="break-glass", options=opts())
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "no-route"
    assert "no break-glass route" in result.problem.message


def test_ssh_route_needs_an_open_session(target: Target) -> None:
    from ztctl.core.model import BreakGlass, SshRoute

    ssh = replace(target, break_glass=BreakGlass(SshRoute("bastion.example")))
    path = break_glass_path(ssh)
    assert not path.available and "ztctl break-glass start lab" in path.fix


def test_session_proxy_is_used_for_break_glass(lab: Lab, target: Target) -> None:
    lab.set_many("zt-path=blackhole")
    no_catalog_route = replace(target, break_glass=None)
    result = probe_cluster(
        no_catalog_route, route="break-glass", options=opts(), session_proxy=lab.proxy_url
    )
    assert result.ok, result.problem


# --- TLS inspection --------------------------------------------------------------------


def test_tls_inspection_is_named_and_never_bypassed(lab: Lab, target: Target) -> None:
    lab.set_many("inspection=on")
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert result.exit_code == 5
    problem = result.problem
    assert problem is not None and problem.kind == "tls-inspection"
    assert "TLS inspection by Cloudflare Gateway" in problem.message
    assert "Gateway CA - Cloudflare Managed" in problem.message
    assert "Do Not Inspect" in problem.fix and "127.0.0.1" in problem.fix
    cert = result.certificate
    assert cert is not None and not cert.verified
    assert cert.inspected_by is not None and cert.inspected_by.startswith(
        "Gateway CA - Cloudflare Managed G1"
    )
    # Nothing was asked over the untrusted connection.
    assert result.readyz is None and result.readyz_status is None and result.user is None


# --- API server answers, but ------------------------------------------------------------


def test_not_ready_is_exit_1_with_the_failing_checks(lab: Lab, target: Target) -> None:
    lab.set_many("api=notready")
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert result.exit_code == 1
    assert result.problem is not None and result.problem.kind == "not-ready"
    assert result.readyz_status == 500
    assert result.readyz is not None and result.readyz.startswith("500: ")
    assert "failed" in result.problem.message
    assert result.version == facts.kube_version()  # still answered


def test_expired_client_certificate_is_exit_4(lab: Lab, target: Target) -> None:
    lab.set_many("client-cert=expired")
    result = probe_cluster(target, route="zero-trust", options=opts())
    assert result.exit_code == 4
    assert result.problem is not None and result.problem.kind == "unauthenticated"
    assert "401" in result.problem.message
    assert str(target.client_certificate) in result.problem.fix


def test_missing_credentials_are_exit_4(target: Target) -> None:
    anonymous = replace(target, client_certificate=None, client_key=None)
    result = probe_cluster(anonymous, route="zero-trust", options=opts())
    # /readyz is public (system:public-info-viewer); who-am-I is not.
    assert result.readyz == "ok"
    assert result.exit_code == 4
    assert result.problem is not None and result.problem.kind == "unauthenticated"


def test_missing_certificate_file_is_exit_4_before_any_connection(
    target: Target, tmp_path: Path
) -> None:
    gone = replace(target, client_certificate=tmp_path / "nope.crt", client_key=tmp_path / "k")
    result = probe_cluster(gone, route="zero-trust", options=opts())
    assert result.exit_code == 4
    assert result.problem is not None and "nope.crt" in result.problem.message
    assert result.timings.connect_ms is None


def test_wrong_ca_is_untrusted_not_inspection(lab: Lab, target: Target) -> None:
    other_ca = facts.pki(lab).gateway_ca_cert.read_bytes()  # a CA that did not sign the server
    result = probe_cluster(replace(target, ca_pem=other_ca), route="zero-trust", options=opts())
    assert result.exit_code == 5
    assert result.problem is not None and result.problem.kind == "tls-untrusted"
    assert facts.ca_subject(lab) in result.problem.message  # names the real issuer


# --- exec plugins ------------------------------------------------------------------------


def write_plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "plugin.py"
    script.write_text(
        f"#!{sys.executable}\n"
        + textwrap.dedent(
            """
            import json, os, sys
            from pathlib import Path
            here = Path(__file__).parent
            info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
            with open(here / "calls.jsonl", "a") as fh:
                fh.write(json.dumps({"info": info, "env": os.environ.get("LAB_FLAVOUR")}) + "\\n")
            """
        )
        + textwrap.dedent(body)
    )
    script.chmod(0o755)
    return script


def calls(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "calls.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("api_version", ["v1", "v1beta1"])
def test_exec_plugin_client_certificate(
    lab: Lab, target: Target, tmp_path: Path, api_version: str
) -> None:
    plugin = write_plugin(
        tmp_path,
        f"""
        status = {{
            "clientCertificateData": Path({str(facts.pki(lab).client_cert)!r}).read_text(),
            "clientKeyData": Path({str(facts.pki(lab).client_key)!r}).read_text(),
            "expirationTimestamp": "2999-01-01T00:00:00Z",
        }}
        print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                          "status": status}}))
        """,
    )
    exec_target = replace(
        target,
        client_certificate=None,
        client_key=None,
        exec=ExecConfig(
            command=str(plugin),
            env=(("LAB_FLAVOUR", "cert"),),
            api_version=f"client.authentication.k8s.io/{api_version}",
            provide_cluster_info=True,
        ),
    )
    result = probe_cluster(exec_target, route="zero-trust", options=opts(count=2, interval=0))
    assert result.ok, result.problem
    assert result.user == facts.client_user(lab)
    assert result.credential == "exec" and result.timings.credential_ms is not None
    seen = calls(tmp_path)
    assert len(seen) == 1  # cached for the whole run, like client-go's in-memory cache
    info = seen[0]["info"]
    assert info["apiVersion"] == f"client.authentication.k8s.io/{api_version}"
    assert info["kind"] == "ExecCredential"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == target.server
    assert "certificate-authority-data" in info["spec"]["cluster"]
    assert seen[0]["env"] == "cert"


def test_exec_plugin_token_is_rerun_when_expired(lab: Lab, target: Target, tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path,
        f"""
        token = Path({str(facts.pki(lab).token_file)!r}).read_text().strip()
        status = {{"token": token, "expirationTimestamp": "2000-01-01T00:00:00Z"}}
        print(json.dumps({{"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                          "status": status}}))
        """,
    )
    exec_target = replace(
        target, client_certificate=None, client_key=None, exec=ExecConfig(command=str(plugin))
    )
    result = probe_cluster(exec_target, route="zero-trust", options=opts(count=1, interval=0))
    assert result.ok, result.problem
    assert result.user == facts.bearer_user()
    assert len(calls(tmp_path)) >= 2  # an expired credential is fetched again


def test_exec_plugin_failure_is_exit_4_and_its_stderr_reaches_the_user(
    target: Target, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    plugin = write_plugin(
        tmp_path,
        """
        sys.stderr.write("please run: acme login\\n")
        sys.exit(3)
        """,
    )
    exec_target = replace(
        target, client_certificate=None, client_key=None, exec=ExecConfig(command=str(plugin))
    )
    result = probe_cluster(exec_target, route="zero-trust", options=opts())
    assert result.exit_code == 4
    assert result.problem is not None and "failed with exit code 3" in result.problem.message
    assert "please run: acme login" in capfd.readouterr().err
    assert result.timings.connect_ms is None


def test_exec_plugin_wrong_api_version_is_refused(target: Target, tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path,
        """
        print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1",
                          "kind": "ExecCredential", "status": {"token": "x"}}))
        """,
    )
    exec_target = replace(
        target, client_certificate=None, client_key=None, exec=ExecConfig(command=str(plugin))
    )
    result = probe_cluster(exec_target, route="zero-trust", options=opts())
    assert result.exit_code == 4
    assert result.problem is not None
    assert "plugin returned version client.authentication.k8s.io/v1beta1" in (
        result.problem.message
    )


def test_exec_plugin_not_found(target: Target) -> None:
    exec_target = replace(
        target,
        client_certificate=None,
        client_key=None,
        exec=ExecConfig(command="ztctl-no-such-plugin", install_hint="brew install acme-auth"),
    )
    result = probe_cluster(exec_target, route="zero-trust", options=opts())
    assert result.exit_code == 4
    assert result.problem is not None and "not found" in result.problem.message
    assert "brew install acme-auth" in result.problem.fix


# --- samples ---------------------------------------------------------------------------


def test_count_gives_percentiles_on_kept_alive_and_fresh_connections(target: Target) -> None:
    events: list[SampleEvent] = []
    result = probe_cluster(
        target, route="zero-trust", options=opts(count=6, interval=0, on_sample=events.append)
    )
    assert result.ok and result.samples is not None
    for stats in (result.samples.keep_alive, result.samples.fresh):
        assert stats.count == 6 and stats.lost == 0
        values = [stats.min_ms, stats.p50_ms, stats.p90_ms, stats.p99_ms, stats.max_ms]
        assert all(v is not None for v in values)
        assert values == sorted(values)  # type: ignore[type-var]
    # Two series, one after the other: kept-alive first, then fresh connections.
    assert [(e.kind, e.index) for e in events] == [
        (kind, i) for kind in ("keep-alive", "fresh") for i in range(1, 7)
    ]
    doc = result.to_dict()["samples"]
    assert set(doc) >= {"count", "lost", "p50Ms", "p90Ms", "p99Ms", "maxMs"}
    assert doc["count"] == 6 and doc["fresh"]["count"] == 6


def test_count_counts_loss_when_the_path_breaks(lab: Lab, target: Target) -> None:
    events: list[SampleEvent] = []

    def on_sample(event: SampleEvent) -> None:
        events.append(event)
        if event.index == 1 and event.kind == "fresh":
            lab.set_many("zt-path=reset")

    result = probe_cluster(
        target, route="zero-trust", options=opts(count=3, interval=0, on_sample=on_sample)
    )
    assert result.samples is not None
    fresh = result.samples.fresh
    assert fresh.count == 3 and fresh.lost == 2
    assert all(e.ms is None and e.error for e in events if e.index > 1 and e.kind == "fresh")


# --- proxies as kubectl chooses them -----------------------------------------------------


def test_kubeconfig_proxy_url_is_used_like_kubectl(lab: Lab, target: Target) -> None:
    # kubectl sends even loopback through proxy-url; so does the probe.
    lab.set_many("zt-path=blackhole")
    proxied = replace(target, proxy_url=lab.proxy_url)
    path = zero_trust_path(proxied, env={})
    assert path.proxy == lab.proxy_url and path.label == f"through {lab.proxy_url}"
    result = probe(proxied, path, opts())
    assert result.ok, result.problem
    assert result.via == lab.proxy_url


def test_environment_proxy_never_applies_to_loopback_names(target: Target) -> None:
    env = {"HTTPS_PROXY": "http://proxy.corp:3128"}
    assert zero_trust_path(target, env=env).proxy is None  # localhost
    remote = replace(target, server="https://k8s.acme.net:6443")
    assert zero_trust_path(remote, env=env).proxy == "http://proxy.corp:3128"
    assert zero_trust_path(remote, env={**env, "NO_PROXY": ".acme.net"}).proxy is None
