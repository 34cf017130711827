"""Whether ztctl's kubeconfig entry still matches the catalog (hostile-user finding 7).

The rule is "would `use-cluster` now write something else": the entries it writes are the
reference, so a cluster, user or exec key the catalog changed is stale, and what the user
or kubectl owns (namespace, extensions, where ztctl itself is installed) is not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ztctl.core.entries import desired_entries, stale_fields, stale_hint
from ztctl.core.model import AccessToken, ClientCertificate, Cluster, ExecCredential

CA = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="


def cluster(**overrides: Any) -> Cluster:
    fields: dict[str, Any] = {
        "name": "prod",
        "server": "https://k8s.prod.acme.net:6443",
        "addresses": ("203.0.113.10",),
        "certificate_authority_data": CA,
        "credentials": ClientCertificate(Path("/keys/prod.crt"), Path("/keys/prod.key")),
    }
    fields.update(overrides)
    return Cluster(**fields)


def written(c: Cluster) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cluster and user bodies use-cluster writes for ``c``."""
    items = desired_entries(c, "acme", "default")
    return items["cluster"]["cluster"], items["user"]["user"]


EXEC = ExecCredential(command="kubelogin", args=("get-token",), env=(("AZ", "1"),))

# (catalog when the entry was written, catalog now, what is stale)
CASES = {
    "unchanged": (cluster(), cluster(), ()),
    "server": (cluster(server="https://localhost:1"), cluster(), ("server",)),
    "ca data": (
        cluster(certificate_authority_data=CA[:-4] + "Cg=="),
        cluster(),
        ("certificate-authority-data",),
    ),
    "ca data → file": (
        cluster(),
        cluster(certificate_authority_data=None, certificate_authority=Path("/ca/prod.pem")),
        ("certificate-authority", "certificate-authority-data"),
    ),
    "client key": (
        cluster(credentials=ClientCertificate(Path("/keys/prod.crt"), Path("/old.key"))),
        cluster(),
        ("client-key",),
    ),
    "cert → exec": (
        cluster(),
        cluster(credentials=EXEC),
        (
            "client-certificate",
            "client-key",
            "exec",
        ),
    ),
    "exec args": (
        cluster(credentials=ExecCredential("kubelogin", ("get-token", "--old"), EXEC.env)),
        cluster(credentials=EXEC),
        ("exec",),
    ),
    "exec env": (
        cluster(credentials=ExecCredential("kubelogin", EXEC.args, (("AZ", "2"),))),
        cluster(credentials=EXEC),
        ("exec",),
    ),
    "exec command": (
        cluster(credentials=ExecCredential("/old/kubelogin", EXEC.args, EXEC.env)),
        cluster(credentials=EXEC),
        ("exec",),
    ),
    "exec unchanged": (cluster(credentials=EXEC), cluster(credentials=EXEC), ()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_stale_fields(case: str) -> None:
    then, now, expected = CASES[case]
    cluster_body, user_body = written(then)
    assert stale_fields(now, cluster_body, user_body) == expected


def test_an_access_token_entry_runs_ztctl_from_wherever_it_is_installed() -> None:
    c = cluster(credentials=AccessToken(app="https://k8s.prod.acme.net"))
    cluster_body, user_body = written(c)
    user_body["exec"] = {**user_body["exec"], "command": "/opt/bin/ztctl"}
    assert stale_fields(c, cluster_body, user_body) == ()
    user_body["exec"] = {**user_body["exec"], "args": ["credential", "other"]}
    assert stale_fields(c, cluster_body, user_body) == ("exec",)


def test_what_the_user_or_kubectl_owns_is_not_stale() -> None:
    c = cluster()
    cluster_body, user_body = written(c)
    cluster_body["extensions"] = [{"name": "other-tool", "extension": {}}]
    cluster_body["proxy-url"] = "socks5://127.0.0.1:1080"  # the user's own addition
    assert stale_fields(c, cluster_body, user_body) == ()
    assert stale_fields(c, cluster_body, None) == ()  # no user entry of ztctl's: not judged


def test_the_hint_names_the_fields_and_the_command() -> None:
    assert stale_hint("prod", ("server", "exec")) == (
        "the kubeconfig entry for prod no longer matches the catalog (server, exec changed): "
        "run `ztctl use-cluster prod` to refresh it"
    )
