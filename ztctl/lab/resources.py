"""The lab cluster's read-only objects: namespaces, nodes and pods, as kubectl reads them.

Enough for the commands the tour and ztctl's own hints suggest (`kubectl get pods`,
`get nodes`, `get ns`, `-A`, `-o wide|json|yaml`, `get pod NAME`): the v1 objects, their
lists, and the server-side ``Table`` kubectl asks for (``Accept: ...;as=Table;...``) with
the columns kube-apiserver prints. Nothing can be created or changed.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
NODE = "lab-control-plane"
_STARTED = time.time() - 86400  # the lab cluster "was created" a day ago

# (namespace, name, container image, restarts)
_PODS = (
    ("default", "hello-7d9c6b8f5-2xk4p", "registry.k8s.io/e2e-test-images/agnhost:2.53", 0),
    ("default", "hello-7d9c6b8f5-q8wzt", "registry.k8s.io/e2e-test-images/agnhost:2.53", 0),
    ("kube-system", "coredns-668d6bf9bc-7vq2m", "registry.k8s.io/coredns/coredns:v1.11.3", 0),
    ("kube-system", f"etcd-{NODE}", "registry.k8s.io/etcd:3.5.16-0", 0),
    ("kube-system", f"kube-apiserver-{NODE}", "registry.k8s.io/kube-apiserver:v1.32.4", 0),
    ("kube-system", "kube-proxy-5hk9d", "registry.k8s.io/kube-proxy:v1.32.4", 0),
)

RESOURCES_V1 = [
    {
        "name": "namespaces",
        "singularName": "namespace",
        "namespaced": False,
        "kind": "Namespace",
        "verbs": ["get", "list"],
        "shortNames": ["ns"],
    },
    {
        "name": "nodes",
        "singularName": "node",
        "namespaced": False,
        "kind": "Node",
        "verbs": ["get", "list"],
        "shortNames": ["no"],
    },
    {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "list"],
        "shortNames": ["po"],
        "categories": ["all"],
    },
]


def _rfc3339(moment: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def _metadata(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"ztctl-lab/{namespace}/{name}")),
        "resourceVersion": "1",
        "creationTimestamp": _rfc3339(_STARTED),
        **extra,
    }
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def namespace(name: str) -> dict[str, Any]:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": _metadata(name, labels={"kubernetes.io/metadata.name": name}),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node(name: str = NODE) -> dict[str, Any]:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": _metadata(
            name,
            labels={
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
        ),
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": "10.89.0.2"},
                {"type": "Hostname", "address": name},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                    "lastHeartbeatTime": _rfc3339(time.time()),
                    "lastTransitionTime": _rfc3339(_STARTED),
                }
            ],
            "nodeInfo": {
                "kubeletVersion": "v1.32.4",
                "osImage": "ztctl lab",
                "kernelVersion": "lab",
                "containerRuntimeVersion": "containerd://1.7.24",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _pod(ns: str, name: str, image: str, restarts: int, index: int) -> dict[str, Any]:
    container = name.rsplit("-", 2)[0] if ns == "default" else name.split("-")[0]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _metadata(name, ns, labels={"app": container}),
        "spec": {
            "nodeName": NODE,
            "containers": [{"name": container, "image": image}],
        },
        "status": {
            "phase": "Running",
            "podIP": f"10.244.0.{10 + index}",
            "hostIP": "10.89.0.2",
            "startTime": _rfc3339(_STARTED),
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": container,
                    "image": image,
                    "ready": True,
                    "started": True,
                    "restartCount": restarts,
                    "state": {"running": {"startedAt": _rfc3339(_STARTED)}},
                }
            ],
        },
    }


def pods(ns: str | None) -> list[dict[str, Any]]:
    """The pods of namespace ``ns`` (every namespace for ``None``)."""
    return [
        _pod(p_ns, name, image, restarts, index)
        for index, (p_ns, name, image, restarts) in enumerate(_PODS)
        if ns is None or p_ns == ns
    ]


def listing(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "kind": f"{kind}List",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": items,
    }


def _age(created: str) -> str:
    moment = time.mktime(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    seconds = max(0, int(time.time() - moment))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_COLUMNS: dict[str, list[tuple[Any, ...]]] = {
    "Namespace": [("Name", "name"), ("Status", "string"), ("Age", "string")],
    "Node": [
        ("Name", "name"),
        ("Status", "string"),
        ("Roles", "string"),
        ("Age", "string"),
        ("Version", "string"),
        ("Internal-IP", "string", 1),
        ("OS-Image", "string", 1),
    ],
    "Pod": [
        ("Name", "name"),
        ("Ready", "string"),
        ("Status", "string"),
        ("Restarts", "string"),
        ("Age", "string"),
        ("IP", "string", 1),
        ("Node", "string", 1),
    ],
}


def _cells(item: dict[str, Any]) -> list[Any]:
    meta, kind = item["metadata"], item["kind"]
    age = _age(meta["creationTimestamp"])
    if kind == "Namespace":
        return [meta["name"], item["status"]["phase"], age]
    if kind == "Node":
        info = item["status"]["nodeInfo"]
        return [
            meta["name"],
            "Ready",
            "control-plane",
            age,
            info["kubeletVersion"],
            item["status"]["addresses"][0]["address"],
            info["osImage"],
        ]
    statuses = item["status"]["containerStatuses"]
    ready = sum(1 for s in statuses if s["ready"])
    restarts = sum(s["restartCount"] for s in statuses)
    return [
        meta["name"],
        f"{ready}/{len(statuses)}",
        item["status"]["phase"],
        str(restarts),
        age,
        item["status"]["podIP"],
        item["spec"]["nodeName"],
    ]


def table(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The server-side Table (meta.k8s.io/v1) kubectl prints for ``get``."""
    columns = []
    for column in _COLUMNS[kind]:
        name, form = column[0], column[1]
        priority = column[2] if len(column) > 2 else 0
        columns.append(
            {
                "name": name,
                "type": "string",
                "format": form if form == "name" else "",
                "description": name,
                "priority": priority,
            }
        )
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "1"},
        "columnDefinitions": columns,
        "rows": [
            {
                "cells": _cells(item),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ],
    }


def lookup(path: str) -> tuple[str, Any] | None:
    """``(kind, object-or-items)`` for a read path, or ``None`` when it names nothing.

    A list path gives ``(kind, [items])``; an object path gives ``(kind, item)``, or
    ``(kind, None)`` when the object does not exist (404).
    """
    parts = path.strip("/").split("/")
    if parts[:2] != ["api", "v1"]:
        return None
    rest = parts[2:]
    if rest == ["namespaces"]:
        return "Namespace", [namespace(n) for n in NAMESPACES]
    if rest == ["nodes"]:
        return "Node", [node()]
    if len(rest) == 2 and rest[0] == "nodes":
        return "Node", node() if rest[1] == NODE else None
    if rest == ["pods"]:
        return "Pod", pods(None)
    if len(rest) >= 2 and rest[0] == "namespaces":
        ns = rest[1]
        if len(rest) == 2:
            return "Namespace", namespace(ns) if ns in NAMESPACES else None
        if rest[2] == "pods" and len(rest) == 3:
            return "Pod", pods(ns)
        if rest[2] == "pods" and len(rest) == 4:
            found = [p for p in pods(ns) if p["metadata"]["name"] == rest[3]]
            return "Pod", found[0] if found else None
    return None
