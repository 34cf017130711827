"""The overlay kubeconfig: how a break-glass child reaches the cluster over the route.

The overlay holds a complete copy of the cluster entry (client-go takes the *whole* entry
from the first file that names it) plus ``proxy-url``, and goes first in the child's
``KUBECONFIG``, so kubectl and every client-go tool take the route while the user's files
stay byte-identical. Which entry is routed: :func:`.opening.find_entry`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.adapters.fs import atomic_write, ensure_private_dir
from ztctl.core.breakglass.session import sessions_dir

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.model import Entry

OVERLAY_NAME = "kubeconfig"
OVERLAY_EXTENSION = "ztctl-break-glass"


@dataclass(frozen=True)
class KubeEntry:
    """The user's own kubeconfig entry for the cluster (what break-glass routes)."""

    cluster: Entry
    user: Entry
    context: str | None
    shadowed: tuple[Entry, ...]  # every cluster entry the overlay routes (cluster first)
    files: tuple[Path, ...]  # the precedence list it was read from


def overlay_document(
    entry: KubeEntry, proxy_url: str | None, session_id: str, cluster: str
) -> dict[str, Any]:
    """A kubeconfig with complete copies of the shadowed cluster entries plus ``proxy-url``.

    No users, contexts or current-context: those keep coming from the user's files.
    """
    clusters = []
    for shadow in entry.shadowed:
        body = dict(shadow.resolved())  # relative CA paths made absolute: new directory
        if proxy_url:
            body["proxy-url"] = proxy_url
        extensions = [
            e
            for e in body.get("extensions") or []
            if not (isinstance(e, dict) and e.get("name") == OVERLAY_EXTENSION)
        ]
        extensions.append(
            {"name": OVERLAY_EXTENSION, "extension": {"session": session_id, "cluster": cluster}}
        )
        body["extensions"] = extensions
        clusters.append({"name": shadow.name, "cluster": body})
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": [],
        "contexts": [],
        "preferences": {},
    }


def write_overlay(path: Path, document: Mapping[str, Any]) -> None:
    """JSON is YAML, and typed exactly as kubectl reads it (no YAML 1.1 surprises)."""
    ensure_private_dir(path.parent)
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"), mode=0o600)


def child_kubeconfig(
    overlay: str, state_dir: Path, kubeconfig: str | None, env: Mapping[str, str]
) -> str:
    """``KUBECONFIG`` for the child: the overlay, then the user's own list (``--kubeconfig``,
    else ``KUBECONFIG``, else ``~/.kube/config``) without overlays of other sessions."""
    from ztctl.core.kubeconfig.files import precedence

    root = os.path.abspath(sessions_dir(state_dir))
    paths = [overlay]
    for path in precedence(kubeconfig, env).paths:
        text = str(path)
        if text == overlay or text.startswith(root + os.sep):
            continue  # started from inside a break-glass shell
        paths.append(text)
    return os.pathsep.join(paths)


def overlay_in_use(state_dir: Path, kubeconfig: str | None, env: Mapping[str, str]) -> Path | None:
    """The break-glass overlay among the kubeconfig files a command would read and write
    (``--kubeconfig``, else ``KUBECONFIG``): set inside ``break-glass exec`` and ``shell``,
    where whatever kubectl or ``use-cluster`` writes goes to the overlay and vanishes with
    the session. None outside a break-glass session."""
    from ztctl.core.kubeconfig.files import precedence

    root = os.path.abspath(sessions_dir(state_dir))
    for path in precedence(kubeconfig, env).paths:
        if os.path.abspath(path).startswith(root + os.sep):
            return Path(path)
    return None


# --------------------------------------------------------------------------------------
