"""Naming what a TLS peer presented, and Gateway's inspection CAs."""

from __future__ import annotations

import pytest

from ztctl.adapters.tlsinfo import (
    CertSummary,
    format_name,
    gateway_inspection_name,
    ssl_time_to_rfc3339,
)


def test_format_name_is_rfc4514_order() -> None:
    rdns = (
        (("countryName", "US"),),
        (("organizationName", "Cloudflare, Inc."),),
        (("commonName", "Gateway CA"),),
    )
    assert format_name(rdns) == "CN=Gateway CA,O=Cloudflare\\, Inc.,C=US"


@pytest.mark.parametrize(
    "text",
    ["Jun  1 12:00:00 2027 GMT", "Dec 31 23:59:59 9999 GMT", "Feb 29 00:00:00 2028 GMT"],
)
def test_ssl_time_agrees_with_ssl(text: str) -> None:
    import ssl
    from datetime import datetime, timezone

    expected = datetime.fromtimestamp(ssl.cert_time_to_seconds(text), timezone.utc)
    assert ssl_time_to_rfc3339(text) == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "",
        "Jun  1 12:00:00 2027 UTC",
        "Foo 1 12:00:00 2027 GMT",
        "Jun 1 12:00 2027 GMT",
        "Jun x1 12:00:00 2027 GMT",
        "Jun 1 1:00:00 2027 GMT",
    ],
)
def test_ssl_time_garbage(text: str) -> None:
    assert ssl_time_to_rfc3339(text) is None


def chain(*pairs: tuple[str, str]) -> list[CertSummary]:
    return [CertSummary(subject=s, issuer=i, not_after=None) for s, i in pairs]


@pytest.mark.parametrize(
    ("presented", "expected"),
    [
        # Per-account roots as seen in the wild (G1 in a wget error, G2 in a keychain).
        (
            chain(("CN=k8s.acme.net", "CN=Gateway CA - Cloudflare Managed G1 0123abcd")),
            "Gateway CA - Cloudflare Managed G1 0123abcd",
        ),
        (
            chain(("CN=k8s.acme.net", "CN=Gateway CA - Cloudflare Managed G2 c1b48542,O=CF")),
            "Gateway CA - Cloudflare Managed G2 c1b48542",
        ),
        # The legacy shared chain: the leaf's issuer is the intermediate's OU.
        (
            chain(
                (
                    "CN=broker.snyk.io",
                    "OU=Gateway Intermediate ECC Certificate Authority,O=Cloudflare\\, Inc.,C=US",
                ),
                (
                    "OU=Gateway Intermediate ECC Certificate Authority,O=Cloudflare\\, Inc.,C=US",
                    "CN=Cloudflare for Teams ECC Certificate Authority,O=Cloudflare\\, Inc",
                ),
            ),
            "Gateway Intermediate ECC Certificate Authority",
        ),
        (chain(("CN=kube-apiserver", "CN=kubernetes")), None),
        (chain(("CN=x", "CN=Corp Proxy CA")), None),  # a custom CA cannot be named
        ([], None),
    ],
)
def test_gateway_inspection_name(presented: list[CertSummary], expected: str | None) -> None:
    assert gateway_inspection_name(presented) == expected
