"""kubeconfig, read and written exactly as kubectl and client-go do.

Import from the submodules; this ``__init__`` defines nothing, so importing one part never
loads the others (a command that only reads kubeconfig does not pay for the editor, difflib
or the lock code):

- :mod:`.model`: :func:`load_kubeconfig` → :class:`Kubeconfig`: every file of the
  precedence list and the merged view (first file wins per name; the first non-empty
  ``current-context``), each :class:`Entry` with its origin file;
  :meth:`Kubeconfig.context_entries` gives the (context, cluster, user) kubectl would use;
  :meth:`Entry.resolved` the body with relative paths resolved like client-go.
- :mod:`.files`: :func:`precedence` (which files, from ``--kubeconfig``, ``KUBECONFIG`` or
  ``~/.kube/config``), :func:`read_file`, :func:`parse_file`.
- :mod:`.store`: :func:`locked`, :func:`write_file`: client-go's ``<file>.lock`` protocol,
  atomic writes with one backup.
- :mod:`.edit`: :class:`FileEditor`: minimal textual edits of one file, verified.
- :mod:`.yamlio`, :mod:`.schema`: the YAML reader and the shape checks.
"""
