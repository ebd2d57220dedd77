"""math-verify in one persistent worker process, each call bounded in time: MATH's grader.

    from computematch.tasks.math_worker import bounded_call, equivalent
    bounded_call(equivalent, "\\frac{1}{2}", "0.5", timeout=5.0)   # True

math-verify bounds its own time with signal.alarm, which only works in the main thread; so it runs here with
its timeouts off, in one spawned worker process that is killed when a call outruns its timeout. The worker
(and the fork hook below) exist only once MATH grading imports this module.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool


def _start_worker(parent_pid: int) -> None:
    """Worker start-up: import math-verify once, silence its 'timeout is disabled' warning (ours bounds the call),
    and exit when the parent is gone: a parent killed (SIGTERM, SIGKILL, os._exit) never shuts its pool down,
    and a ProcessPoolExecutor worker would otherwise wait for work forever."""
    import math_verify  # noqa: F401

    logging.getLogger("math_verify").setLevel(logging.ERROR)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(1)
    os._exit(0)


def _parse(text: str) -> list:
    """math-verify's parse of one bare answer; wrapped in $...$ (it finds nothing in bare LaTeX), else in \\boxed{}.

    $...$ first: it parses a few forms \\boxed{} does not ('50\\%', '3.').
    """
    from math_verify import parse

    for wrapped in (f"${text}$", f"\\boxed{{{text}}}"):
        parsed = parse(wrapped, parsing_timeout=None)
        if parsed:
            return parsed
    return []


def equivalent(gold: str, pred: str) -> bool:
    """math-verify's verdict, gold first; runs with its timeouts off, so call it in the worker (`bounded_call`)."""
    from math_verify import verify

    return bool(verify(_parse(gold), _parse(pred), timeout_seconds=None))


_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()  # one call at a time: a call's timeout then measures its own work, not a queue


def _forget_pool_in_forked_child() -> None:
    """A forked child (a DataLoader worker, say) starts its own worker: the inherited pool is the parent's, never
    to be used or killed here, and the inherited lock may have been held by another thread at the fork."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_forked_child)


def _kill_pool() -> None:
    """Kill the worker (a stuck sympy call ignores everything gentler); the next call starts a fresh one."""
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public way to kill before 3.14
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
        process.join(timeout=5)


def bounded_call(function, *args, timeout: float):
    """function(*args) in the persistent worker process; raises TimeoutError (and kills the worker) after timeout s.

    Works from any thread, unlike signal.alarm. `function` must be importable by name (spawn pickles it so).
    spawn, not fork: the caller may hold CUDA, vLLM or tokenizer threads, which a forked child inherits badly.
    """
    with _pool_lock:
        pool = _pool or _start_pool()
        future = pool.submit(function, *args)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if future.done():  # the function itself raised TimeoutError (the same class since Python 3.11)
                raise
            _kill_pool()
            raise TimeoutError(f"{getattr(function, '__name__', function)} took over {timeout} s") from None
        except BrokenProcessPool:
            _kill_pool()  # the worker died (out of memory, a crash): start afresh next call
            raise


def _start_pool() -> ProcessPoolExecutor:
    """The one worker, started and warmed up, so that its start-up (~0.3 s) is not charged to the first call."""
    global _pool
    _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                initializer=_start_worker, initargs=(os.getpid(),))
    try:
        _pool.submit(int).result(timeout=120)
    except (BrokenProcessPool, TimeoutError) as error:
        _kill_pool()  # loud, not a counted grading failure: every later sample would fail the same way
        raise RuntimeError("the math-verify worker process did not start; a script that grades MATH needs an "
                           "`if __name__ == '__main__':` guard (multiprocessing's spawn re-imports it)") from error
    return _pool
