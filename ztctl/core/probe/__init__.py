"""Reach a Kubernetes API server the way kubectl would, and show where the time goes.

The probe uses the cluster's own server URL, CA and credentials (client certificate,
bearer token or an exec plugin run per the client-go protocol), dials a catalog address
(directly — the Zero Trust path — or through the break-glass proxy), and times each phase:
DNS, TCP connect, proxy handshake, TLS handshake, first byte, total. On one kept-alive
HTTP/1.1 connection it then asks ``/readyz``, ``/version`` and a ``SelfSubjectReview``
(who am I).

Verification is never turned off for anything that carries a request. When the chain does
not verify, a second handshake without verification reads the presented chain *only* to
name its issuer (Cloudflare Gateway's TLS inspection, or something else); that connection is
closed without sending a byte of HTTP.

The package, one job per module:

- :mod:`.target` — :class:`Target` and its builders (pure);
- :mod:`.resolve` — which target a command probes (catalog + kubeconfig);
- :mod:`.routes` — :class:`RoutePath`: Zero Trust or break-glass;
- :mod:`.credentials` — exec plugin, token, TLS context, cached per run;
- :mod:`.run` — phases, pipelining, samples, ``--route auto`` fallback;
- :mod:`.diagnose` — failure → :class:`Problem`, the one home of every fix text;
- :mod:`.result` — :class:`ProbeResult` and its parts (the ``--json`` document).

The wire itself (sockets, TLS, HTTP/1.1) is :mod:`ztctl.adapters.wire`. Nothing here
prints; progress of ``--count`` reaches the caller through ``on_sample``. The caller looks
up an open break-glass session and passes its proxy in: the probe does not read sessions.
"""

from __future__ import annotations

from ztctl.core.probe.resolve import (
    ResolvedTarget,
    kubeconfig_target,
    kubeconfig_targets,
    resolve_target,
)
from ztctl.core.probe.result import (
    CertificateInfo,
    DnsInfo,
    ProbeResult,
    Problem,
    SampleEvent,
    Samples,
    SampleStats,
    Timings,
    percentile,
)
from ztctl.core.probe.routes import ROUTES, RoutePath, break_glass_path, zero_trust_path
from ztctl.core.probe.run import ProbeOptions, probe, probe_cluster
from ztctl.core.probe.target import Target, target_from_cluster, target_from_kubeconfig

__all__ = [
    "ROUTES",
    "CertificateInfo",
    "DnsInfo",
    "ProbeOptions",
    "ProbeResult",
    "Problem",
    "ResolvedTarget",
    "RoutePath",
    "SampleEvent",
    "SampleStats",
    "Samples",
    "Target",
    "Timings",
    "break_glass_path",
    "kubeconfig_target",
    "kubeconfig_targets",
    "percentile",
    "probe",
    "probe_cluster",
    "resolve_target",
    "target_from_cluster",
    "target_from_kubeconfig",
    "zero_trust_path",
]
