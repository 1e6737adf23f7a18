"""The worker: one loop that runs every registered job (deliveries, inbox processing, match
index refresh) until stopped. ``coopfed worker`` runs it as a process; embedded mode runs the
same loop in a background thread of ``coopfed run``. Tests call ``run_once()``."""

from __future__ import annotations

import logging
import threading

from federation import transient
from node.state import Job, NodeState

log = logging.getLogger("coopfed.worker")


class Worker:
    def __init__(self, state: NodeState) -> None:
        self.state = state
        self._stop = threading.Event()

    @property
    def jobs(self) -> list[tuple[str, Job]]:
        return self.state.jobs

    def run_once(self) -> int:
        """Run every job once; the number of items handled in all."""
        done = 0
        for name, job in list(self.jobs):
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
        while not self._stop.is_set():
            if self.run_once() == 0:
                self._stop.wait(self.state.settings.worker_idle_seconds)
        log.info("worker stopped")

    def stop(self) -> None:
        self._stop.set()

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run_forever, name="coopfed-worker", daemon=True)
        thread.start()
        return thread


def register_job(state: NodeState, name: str, job: Job) -> None:
    state.add_job(name, job)
