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
"""

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
