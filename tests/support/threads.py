"""Run calls in threads that start together, so that what they do overlaps (sessions sharing one model)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


def at_once(work: Callable[..., None], jobs: Iterable[tuple], timeout: float = 60) -> None:
    """work(*job) for every job, each in a thread of its own, all released by one barrier; waits for all."""
    jobs = list(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(*job) -> None:
        barrier.wait()  # start together so the calls overlap
        work(*job)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=timeout)
