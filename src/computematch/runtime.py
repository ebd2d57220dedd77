"""Where torch runs: the thread count and the device, applied once at the start of a stage that uses torch;
and the models of a stage (a world's base models, a cell's worlds and seeds) trained or evaluated side by side in
worker processes.

    device = apply_runtime(params.runtime)   # 'cpu' or 'cuda'
    processes = worker_processes(params.runtime, len(jobs), device)
    for result in map_workers(train_one, jobs, params.runtime.threads, processes): ...
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from typing import Callable, Iterator, Sequence

from computematch.config import RuntimeConfig
from computematch.errors import UserError


def apply_runtime(runtime: RuntimeConfig) -> str:
    """Set torch's thread count (it changes float sums, so it is a param); return the device to use."""
    import torch

    torch.set_num_threads(runtime.threads)
    if runtime.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return runtime.device


def worker_processes(runtime: RuntimeConfig, jobs: int, device: str, in_process: bool = True) -> int:
    """How many models of a stage train or evaluate at once. `auto`: every one on a CPU, one at a time on a GPU.

    Why: on 2 cores, two threads made finetuning only ~1.24x and generation ~1.0x faster than one (README,
    Speed), so three one-thread processes do more work per second than one two-thread process. The results are
    the same: every weight and sample of the default study's 27 seeded runs came out identical both ways.
    `in_process` False (the work runs in ranks, Ray workers or a vLLM engine of its own): one at a time."""
    if jobs < 2 or not in_process:
        return 1
    if runtime.worker_processes == "auto":
        return jobs if device == "cpu" else 1
    return min(runtime.worker_processes, jobs)


def threads_per_process(threads: int, processes: int) -> int:
    """Each of `processes` workers' share of runtime.threads: at least one."""
    return max(1, threads // processes)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def map_workers(function: Callable, jobs: Sequence[tuple], threads: int, processes: int,
              preload: Sequence[str] = ("torch",)) -> Iterator:
    """`function(*job)` for every job, yielded in order. With `processes` > 1 the jobs run in that many worker
    processes, `threads // processes` torch threads each (at least 1); `function` must be importable by name.

    Workers fork from a server that imported `preload` once (multiprocessing's forkserver): a fresh process,
    so no thread pool or open database is inherited, and torch and transformers are not imported per model."""
    if processes <= 1:
        _set_threads(threads)  # a member's thread count, whether it runs here or in a worker
        for job in jobs:
            yield function(*job)
        return
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(list(preload))
    else:  # Windows: each worker starts afresh and imports for itself
        context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(processes, mp_context=context, initializer=_set_threads,
                                                  initargs=(threads_per_process(threads, processes),))
    try:
        futures = [pool.submit(function, *job) for job in jobs]
        for future in futures:
            try:
                yield future.result()
            except concurrent.futures.process.BrokenProcessPool:
                raise UserError(f"{getattr(function, '__name__', function)}: a worker process died (out of memory, "
                                "or killed); runtime.worker_processes: 1 runs the models one after another") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
