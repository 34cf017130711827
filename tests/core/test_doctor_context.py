"""The doctor context hands every thread the same WarpClient, so --bundle sees every call."""

from __future__ import annotations

import threading

from ztctl.core.config import WarpConfig
from ztctl.core.doctor.context import DoctorContext


def test_one_warp_client_for_every_thread() -> None:
    ctx = DoctorContext(team=None, warp=WarpConfig())
    barrier = threading.Barrier(16)
    seen: list[object] = []

    def ask() -> None:
        barrier.wait()
        seen.append(ctx.warp_client())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
