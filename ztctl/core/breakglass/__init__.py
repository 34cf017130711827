"""Break-glass sessions: the out-of-band route to a cluster, with a reason, an expiry, an audit.

Import from the submodule that holds what you need (nothing is re-exported here):

- :mod:`.session`: the stored session (:class:`Session`, :class:`RouteState`), reading and
  listing sessions, and the cheap questions other commands ask (``active_session``,
  ``session_proxy``, ``hint``, ``has_route``). Standard library only.
- :mod:`.store`: writing and removing session files, the per-cluster lock, the audit record
  (:class:`~.store.AuditFailed` when it cannot be written).
- :mod:`.trusted`: what is taken from the catalog, never from a session file (the VPN's
  ``down`` command, ``maxTtl``).
- :mod:`.policy`: the reason rule and the TTL rule (pure).
- :mod:`.overlay`: the overlay kubeconfig and the child's ``KUBECONFIG``.
- :mod:`.processes`: spawning the watchdog; whether the watchdog, route or starter lives.
- :mod:`.opening`: ``start``; which kubeconfig entry is routed (``find_entry``); opening
  routes.
- :mod:`.lifecycle`: ``end``, ``expire``, ``reap``, ``status``; closing routes.
- :mod:`.child`: ``exec`` and ``shell`` (``prepare_exec``, ``run_child``).

The life of a session:

1. ``start``: the reason is checked, the TTL capped by the catalog's ``maxTtl`` (itself at
   most 7 days), the user's own kubeconfig entry for the cluster found, and the Zero Trust
   path probed — a healthy path refuses the start unless ``force``. The session file is
   written (state ``opening``) and a detached watchdog started *before* the route opens, so
   a ztctl killed half-way still has its route closed. ``break-glass.route-open`` is
   audited, then the route opens (a proxy is only checked; ``ssh -D`` and VPNs are started,
   a VPN's command printed first), the probe proves over it that the API server answers
   with the same server URL, CA and credentials, and the overlay kubeconfig is written.
   ``break-glass.start`` goes to the audit log and only then does the session become
   ``active`` with ``deadline = now + ttl`` (fail closed: no audit, no session; a failure
   closes the route and records ``break-glass.route-failed``).
2. ``exec``/``shell``: the child gets ``KUBECONFIG=<overlay>:<the user's own list>``.
   ``ZTCTL_BREAK_GLASS`` names the cluster for shell prompts. Each run is audited with the
   command name only.
3. The end: ``end`` (audited ``break-glass.end``; the route is closed even when the audit
   fails), or the deadline: the watchdog
   (:mod:`ztctl.core.watchdog`) — or any break-glass command that finds an expired session
   (``reap``) — closes the route, deletes the overlay and records ``break-glass.expire``.

A session file only identifies a session: route commands and ``maxTtl`` come from the
catalog (:mod:`.trusted`), and the deadline read from a file is capped by the TTL rules.

Nothing here prints; progress reaches the caller through ``on_progress``.
"""
