"""The worker: loops that run every registered job (deliveries, inbox processing, match index
refresh) until stopped. ``coopfed worker`` runs it as a process; embedded mode runs the same
loops in background threads of ``coopfed run``. Tests call ``run_once()`` (every job, in turn).

Deliveries have a loop (thread) of their own (:data:`OWN_LOOP`): in one loop with the other
jobs, a fan-out waited behind each match index rebuild (seconds on a loaded node, one per call
published) and the soak's fan-outs every 30 s to 2,000 followers piled up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from federation import transient
from node.state import Job, NodeState

log = logging.getLogger("coopfed.worker")

OWN_LOOP = frozenset({"federation.deliveries"})


class Worker:
    def __init__(self, state: NodeState) -> None:
        self.state = state
        self._stop = threading.Event()

    @property
    def jobs(self) -> list[tuple[str, Job]]:
        return self.state.jobs

    def run_once(self, names: Collection[str] | None = None) -> int:
        """Run every job once (only those named in ``names``, if given); items handled in all."""
        done = 0
        for name, job in list(self.jobs):
            if names is not None and name not in names:
                continue
            try:
                done += job(self.state)
            except Exception as exc:  # one failing job must not stop deliveries
                if transient.is_transient(exc):
                    # The database busy or restarting, a peer timing out: the job's work is
                    # still there next round. One line, no traceback.
                    log.warning("worker job %s: transient failure: %s", name, transient.reason(exc))
                else:
                    log.exception("worker job %s failed", name)
        return done

    def run_forever(self) -> None:
        log.info("worker started for %s", self.state.ctx.domain)
        names = {name for name, _job in self.jobs}
        # One round of the others first: start-up work (the node's and members' keys, which
        # deliveries sign with) is done before deliveries start.
        self.run_once(names - OWN_LOOP)
        threads = [
            threading.Thread(target=self._loop, args=({n},), name=f"coopfed-{n}", daemon=True)
            for n in sorted(names & OWN_LOOP)
        ]
        for thread in threads:
            thread.start()
        self._loop(names - OWN_LOOP)
        for thread in threads:
            thread.join()
        log.info("worker stopped")

    def _loop(self, names: Collection[str]) -> None:
        while not self._stop.is_set():
            if self.run_once(names) == 0:
                self._stop.wait(self.state.settings.worker_idle_seconds)

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="coopfed-worker", daemon=True)
        thread.start()
        return thread


def register_job(state: NodeState, name: str, job: Job) -> None:
    state.add_job(name, job)
