"""Shell completion of catalog cluster names for every CLUSTER argument.

Completion runs on each Tab press, before any command callback, so it reads the global
options from the parsed root context itself, never touches the network (an https catalog
completes from its cached copy only) and stays silent on any problem.
"""

from __future__ import annotations

import os
from typing import Any

import click


def cluster_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The catalog's cluster names, minus those already on the command line (``doctor a b``)."""
    taken = _already_given(ctx, param)
    return [item for item in _catalog_items(ctx, incomplete) if item.value not in taken]


def session_then_cluster_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[Any]:
    """For ``break-glass end|exec|shell``: clusters with an open session first, then the rest.

    Each name is offered once.
    """
    from click.shell_completion import CompletionItem

    items: list[Any] = []
    seen: set[str] = set()
    for name, until in _open_sessions():
        if name.startswith(incomplete) and name not in seen:
            seen.add(name)
            items.append(CompletionItem(name, help=f"open break-glass session, until {until}"))
    for item in cluster_names(ctx, param, incomplete):
        if item.value not in seen:
            seen.add(item.value)
            items.append(item)
    return items


def _open_sessions() -> list[tuple[str, str]]:
    try:
        import time

        from ztctl.core import config as config_mod
        from ztctl.core.breakglass.session import list_sessions

        now = time.time()
        return [
            (s.cluster, time.strftime("%H:%M", time.localtime(s.deadline)))
            for s in list_sessions(config_mod.state_dir(os.environ))
            if s.state == "active" and s.remaining(now) > 0
        ]
    except Exception:  # completion stays silent on any problem
        return []


def _already_given(ctx: click.Context, param: click.Parameter) -> set[str]:
    value = ctx.params.get(param.name or "")
    if isinstance(value, (list, tuple)):
        return {str(v) for v in value}
    return set()


def lab_set_keys(_ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
    """``lab set``: ``KEY=`` for each key (with what it takes), then the values of a choice."""
    from click.shell_completion import CompletionItem

    try:
        from ztctl.lab.control import RESET, SET_KEYS
    except Exception:
        return []
    if "=" in incomplete:
        key, _, partial = incomplete.partition("=")
        spec = SET_KEYS.get(key)
        if spec is None or "|" not in spec.help:
            return []
        choices = [c.strip().split(" ")[0] for c in spec.help.split("(")[0].split("|")]
        return [CompletionItem(f"{key}={c}") for c in choices if c and c.startswith(partial)]
    items = [
        CompletionItem(f"{key}=", help=spec.help)
        for key, spec in SET_KEYS.items()
        if key.startswith(incomplete)
    ]
    if RESET.startswith(incomplete):
        items.append(CompletionItem(RESET, help="back to the healthy default"))
    return items


def _catalog_items(ctx: click.Context, incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    try:
        from ztctl.core import config as config_mod
        from ztctl.core.catalog import load_catalog

        root = ctx.find_root().params
        env = os.environ
        source = root.get("catalog")
        if not source:
            path = config_mod.config_path(root.get("config_path"), env)
            source = config_mod.load_config(path, env).catalog
        if not source:
            return []
        catalog = load_catalog(source, lambda: config_mod.state_dir(env), env, offline=True)
    except Exception:  # a broken catalog must not spew errors into the user's prompt
        return []
    return [
        CompletionItem(cluster.name, help=cluster.server)
        for cluster in catalog.clusters
        if cluster.name.startswith(incomplete)
    ]
