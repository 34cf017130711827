"""Shell completion of catalog cluster names for every CLUSTER argument.

Completion runs on each Tab press, before any command callback, so it reads the global
options from the parsed root context itself, never touches the network (an https catalog
completes from its cached copy only) and stays silent on any problem.
"""

from __future__ import annotations

import os
from typing import Any

import click


def cluster_names(ctx: click.Context, _param: click.Parameter, incomplete: str) -> list[Any]:
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
