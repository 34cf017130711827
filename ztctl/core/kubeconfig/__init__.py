"""kubeconfig, read and written exactly as kubectl and client-go do.

Public API (used by use-cluster, doctor, probe, status):

- :func:`load_kubeconfig` → :class:`Kubeconfig`: every file of the precedence list and the
  merged view (first file wins per name; the first non-empty ``current-context``), each
  :class:`Entry` with its origin file; :meth:`Kubeconfig.context_entries` gives the
  (context, cluster, user) kubectl would use; :meth:`Kubeconfig.catalog_cluster` the
  catalog cluster the current context reaches; :meth:`Entry.resolved` the body with
  relative paths resolved like client-go.
- :func:`precedence`: which files, from ``--kubeconfig``/``KUBECONFIG``/``~/.kube/config``.
- :func:`locked`, :func:`write_file`: client-go's ``<file>.lock`` protocol, atomic writes
  with one backup.
- :class:`FileEditor`: minimal textual edits of one file, verified.

Names are loaded on first use (PEP 562): a command that only reads kubeconfig (``clusters``,
``probe``, ``doctor``) does not pay for the editor, difflib or the lock code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ztctl.core.kubeconfig.edit import EditedFile, FileEditor, unified_diff
    from ztctl.core.kubeconfig.files import (
        KubeconfigFile,
        Precedence,
        default_filename,
        parse_file,
        precedence,
        read_file,
    )
    from ztctl.core.kubeconfig.model import (
        EXTENSION_NAME,
        KINDS,
        Entry,
        Kubeconfig,
        endpoint,
        load_kubeconfig,
        merge_files,
        server_matches,
    )
    from ztctl.core.kubeconfig.store import (
        BACKUP_SUFFIX,
        LOCK_SUFFIX,
        backup_path,
        check_unchanged,
        lock_path,
        locked,
        write_file,
    )

_LAZY = {
    "BACKUP_SUFFIX": "ztctl.core.kubeconfig.store",
    "EXTENSION_NAME": "ztctl.core.kubeconfig.model",
    "EditedFile": "ztctl.core.kubeconfig.edit",
    "Entry": "ztctl.core.kubeconfig.model",
    "FileEditor": "ztctl.core.kubeconfig.edit",
    "KINDS": "ztctl.core.kubeconfig.model",
    "Kubeconfig": "ztctl.core.kubeconfig.model",
    "KubeconfigFile": "ztctl.core.kubeconfig.files",
    "LOCK_SUFFIX": "ztctl.core.kubeconfig.store",
    "Precedence": "ztctl.core.kubeconfig.files",
    "backup_path": "ztctl.core.kubeconfig.store",
    "check_unchanged": "ztctl.core.kubeconfig.store",
    "default_filename": "ztctl.core.kubeconfig.files",
    "endpoint": "ztctl.core.kubeconfig.model",
    "load_kubeconfig": "ztctl.core.kubeconfig.model",
    "lock_path": "ztctl.core.kubeconfig.store",
    "locked": "ztctl.core.kubeconfig.store",
    "merge_files": "ztctl.core.kubeconfig.model",
    "parse_file": "ztctl.core.kubeconfig.files",
    "precedence": "ztctl.core.kubeconfig.files",
    "read_file": "ztctl.core.kubeconfig.files",
    "server_matches": "ztctl.core.kubeconfig.model",
    "unified_diff": "ztctl.core.kubeconfig.edit",
    "write_file": "ztctl.core.kubeconfig.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BACKUP_SUFFIX",
    "EXTENSION_NAME",
    "KINDS",
    "LOCK_SUFFIX",
    "EditedFile",
    "Entry",
    "FileEditor",
    "Kubeconfig",
    "KubeconfigFile",
    "Precedence",
    "backup_path",
    "check_unchanged",
    "default_filename",
    "endpoint",
    "load_kubeconfig",
    "lock_path",
    "locked",
    "merge_files",
    "parse_file",
    "precedence",
    "read_file",
    "server_matches",
    "unified_diff",
    "write_file",
]
