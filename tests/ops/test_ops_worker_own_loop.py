"""Deliveries run in a loop of their own in ``coopfed worker``: a slow job (a match index
rebuild on a loaded node) does not hold up a fan-out."""

from __future__ import annotations

import threading
import time

from node.worker import Worker


def test_deliveries_do_not_wait_behind_a_slow_job(make_node) -> None:
    app = make_node(worker_idle_seconds=0.05)
    state = app.extensions["coopfed"]
    runs: list[float] = []
    rounds: list[float] = []

    def deliveries_probe(_state) -> int:  # a second job of the deliveries' name: counts rounds
        runs.append(time.monotonic())
        return 0

    def slow(_state) -> int:  # a rebuild taking a second
        rounds.append(time.monotonic())
        time.sleep(1.0)
        return 0

    state.add_job("federation.deliveries", deliveries_probe)
    state.add_job("slow.rebuild", slow)
    worker = Worker(state)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    deadline = time.monotonic() + 120  # the first round builds the real match index: slow
    while len(rounds) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    worker.stop()
    thread.join(120)
    assert not thread.is_alive() and len(rounds) >= 3
    # In one loop deliveries would run once per slow round; in their own, every idle pause.
    between = [t for t in runs if rounds[0] < t < rounds[2]]
    assert len(between) >= 8
