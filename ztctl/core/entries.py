"""The kubeconfig entries ztctl writes for a catalog cluster (``use-cluster``), and whether
an entry it wrote earlier still matches the catalog.

Kept apart from :mod:`ztctl.core.use_cluster` (the writer, with its locks and editors) so
that ``clusters``, ``probe`` and ``doctor`` can tell a stale entry without loading it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ztctl.core.kubeconfig.model import EXTENSION_NAME
from ztctl.core.model import AccessToken, ClientCertificate, Cluster, ExecCredential

EXEC_API_VERSION = "client.authentication.k8s.io/v1"
CREDENTIAL_COMMAND = "ztctl"
INSTALL_HINT = (
    "ztctl provides the credentials of this cluster: install it and put it on PATH "
    "(see docs/use-cluster.md)"
)


def _extension(cluster: Cluster, team: str | None) -> list[dict[str, Any]]:
    value: dict[str, Any] = {"cluster": cluster.name}
    if team:
        value["team"] = team
    return [{"extension": value, "name": EXTENSION_NAME}]


def _exec(
    command: str, args: Iterable[str], env: Iterable[tuple[str, str]], hint: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": EXEC_API_VERSION,
        "args": list(args) or None,
        "command": command,
        "env": [{"name": k, "value": v} for k, v in env] or None,
    }
    if hint:
        body["installHint"] = hint
    body["interactiveMode"] = "IfAvailable"
    body["provideClusterInfo"] = False
    return body


def desired_entries(
    cluster: Cluster,
    team: str | None,
    namespace: str | None,
    *,
    credential_command: str = CREDENTIAL_COMMAND,
) -> dict[str, dict[str, Any]]:
    """The cluster, user and context items, keys in the order kubectl writes them.

    kubectl writes sorted keys, ``args: null``/``env: null`` for empty lists and
    ``provideClusterInfo: false``: writing the same makes a later kubectl rewrite a no-op.
    """
    ext = _extension(cluster, team)
    cluster_body: dict[str, Any] = {}
    if cluster.certificate_authority_data is not None:
        cluster_body["certificate-authority-data"] = cluster.certificate_authority_data
    elif cluster.certificate_authority is not None:
        cluster_body["certificate-authority"] = str(cluster.certificate_authority.expanduser())
    cluster_body["extensions"] = ext
    cluster_body["server"] = cluster.server

    creds = cluster.credentials
    user_body: dict[str, Any] = {}
    if isinstance(creds, ClientCertificate):
        user_body["client-certificate"] = str(creds.certificate.expanduser())
        user_body["client-key"] = str(creds.key.expanduser())
    elif isinstance(creds, ExecCredential):
        user_body["exec"] = _exec(creds.command, creds.args, creds.env)
    elif isinstance(creds, AccessToken):
        user_body["exec"] = _exec(
            credential_command, ("credential", cluster.name), (), INSTALL_HINT
        )
    user_body["extensions"] = ext

    context_body: dict[str, Any] = {"cluster": cluster.name, "extensions": ext}
    if namespace:
        context_body["namespace"] = namespace
    context_body["user"] = cluster.name
    return {
        "cluster": {"cluster": cluster_body, "name": cluster.name},
        "user": {"name": cluster.name, "user": user_body},
        "context": {"context": context_body, "name": cluster.name},
    }


# The kubectl keys whose value comes from the catalog (the rest is the user's or kubectl's).
_CLUSTER_KEYS = ("server", "certificate-authority", "certificate-authority-data")
_USER_KEYS = ("client-certificate", "client-key")


def stale_fields(
    cluster: Cluster, cluster_body: Mapping[str, Any], user_body: Mapping[str, Any] | None
) -> tuple[str, ...]:
    """The kubectl keys of ztctl's entry for ``cluster`` that ``use-cluster`` would now write
    differently (``server``, ``certificate-authority-data``, ``exec``, …): empty when the
    entry matches the catalog. ``user_body`` is None when ztctl's user entry is not there.

    An accessToken cluster's exec entry runs ztctl wherever it is installed: only its
    arguments and environment count.
    """
    want = desired_entries(cluster, None, None)
    want_cluster, want_user = want["cluster"]["cluster"], want["user"]["user"]
    stale = [key for key in _CLUSTER_KEYS if cluster_body.get(key) != want_cluster.get(key)]
    if user_body is not None:
        stale += [key for key in _USER_KEYS if user_body.get(key) != want_user.get(key)]
        any_command = isinstance(cluster.credentials, AccessToken)
        if _exec_key(user_body.get("exec"), any_command) != _exec_key(
            want_user.get("exec"), any_command
        ):
            stale.append("exec")
    return tuple(stale)


def _exec_key(body: Any, any_command: bool) -> tuple[Any, ...] | None:
    if not isinstance(body, Mapping):
        return None
    env = tuple(
        (item.get("name"), item.get("value"))
        for item in body.get("env") or ()
        if isinstance(item, Mapping)
    )
    command = None if any_command else body.get("command")
    return (command, tuple(body.get("args") or ()), env)


def stale_hint(name: str, fields: Iterable[str]) -> str:
    """The fix for a stale entry, said the same way by clusters, probe and doctor."""
    return (
        f"the kubeconfig entry for {name} no longer matches the catalog ({', '.join(fields)} "
        f"changed): run `ztctl use-cluster {name}` to refresh it"
    )
