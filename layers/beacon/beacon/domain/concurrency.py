"""The container's one pool of threads, on which a batch overlaps its DynamoDB calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from functools import cache
from typing import TypeVar

BATCH_WORKERS = 16
T = TypeVar("T")
R = TypeVar("R")


def run_all(function: Callable[[T], R], inputs: Sequence[T]) -> list[R]:
    """`function` over `inputs`, in order; on the shared pool when there is more than one. Every call finishes
    before this returns, even when one of them raised."""
    if len(inputs) <= 1:
        return [function(value) for value in inputs]
    futures: list[Future[R]] = [shared_pool().submit(function, value) for value in inputs]
    wait(futures)
    return [future.result() for future in futures]


@cache
def shared_pool() -> Executor:
    """One pool per container, created at the first batch (never during init), reused while warm: starting new
    threads for every batch cost more CPU than storing its items (bench/cpu.py)."""
    return ThreadPoolExecutor(max_workers=BATCH_WORKERS, thread_name_prefix="beacon-batch")
