"""The lab: a local simulated Zero Trust environment on loopback (docs/lab.md).

Imported only by ``ztctl lab`` and by tests, never on the CLI start-up path. This package
module holds the constants every lab part agrees on; keep it free of heavy imports (the
stand-in ``warp-cli`` imports :mod:`ztctl.lab.state` on every call).
"""

from __future__ import annotations

# Every lab server listens here; nothing ever binds outside 127.0.0.0/8.
LAB_HOST = "127.0.0.1"
# The bastion connects out from this second loopback address, so the API server can tell
# the break-glass route (peer == BASTION_SOURCE) from the Zero Trust path (any other peer).
BASTION_SOURCE = "127.0.0.2"
# The cluster's address as the catalog lists it (what WARP must route for the direct path).
CLUSTER_ADDRESS = "127.0.0.1"
CLUSTER_HOSTNAME = "localhost"

ROUTE_ZERO_TRUST = "zero-trust"
ROUTE_BREAK_GLASS = "break-glass"
# Response header of the lab API server naming the route a request arrived on.
ROUTE_HEADER = "X-Ztctl-Lab-Route"

LAB_FILE = "lab.json"  # written by the background process once every port listens
LOG_FILE = "lab.log"
