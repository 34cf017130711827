"""Break-glass sessions: the out-of-band route to a cluster, with a reason, an expiry, an audit.

Import from the submodule that holds what you need (nothing is re-exported here):

- :mod:`.session`: the stored session (:class:`Session`, :class:`RouteState`), reading and
  listing sessions, and the cheap questions other commands ask (``active_session``,
  ``session_proxy``, ``hint``, ``has_route``). Standard library only.
- :mod:`.store`: writing and removing session files, the per-cluster lock, the audit record.
- :mod:`.policy`: the reason rule and the TTL rule (pure).
- :mod:`.overlay`: the overlay kubeconfig and the child's ``KUBECONFIG``.
- :mod:`.processes`: spawning the watchdog; whether the watchdog, route or starter lives.
- :mod:`.lifecycle`: ``start``, ``end``, ``expire``, ``reap``, ``status``; which kubeconfig
  entry is routed (``find_entry``); opening and closing routes.
- :mod:`.child`: ``exec`` and ``shell`` (``prepare_exec``, ``run_child``).

The life of a session:

1. ``start``: the reason is checked, the TTL capped by the catalog's ``maxTtl``, the user's
   own kubeconfig entry for the cluster found, and the Zero Trust path probed — a healthy
   path refuses the start unless ``force``. The session file is written (state
   ``opening``) and a detached watchdog started *before* the route opens, so a ztctl
   killed half-way still has its route closed. Then the route opens (a proxy is only
   checked; ``ssh -D`` and VPNs are started), the probe proves over it that the API server
   answers with the same server URL, CA and credentials, the overlay kubeconfig is written
   and the session becomes ``active`` with ``deadline = now + ttl``; ``break-glass.start``
   goes to the audit log.
2. ``exec``/``shell``: the child gets ``KUBECONFIG=<overlay>:<the user's own list>``.
   ``ZTCTL_BREAK_GLASS`` names the cluster for shell prompts. Each run is audited with the
   command name only.
3. The end: ``end`` (audited ``break-glass.end``), or the deadline: the watchdog
   (:mod:`ztctl.core.watchdog`) — or any break-glass command that finds an expired session
   (``reap``) — closes the route, deletes the overlay and records ``break-glass.expire``.

Nothing here prints; progress reaches the caller through ``on_progress``.
"""
