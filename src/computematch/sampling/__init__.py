"""Sampler backends by name ("module:Class", imported only when chosen) and the resumable sampling driver.

    backend = get_backend("transformers", "models/base/wc", device="cpu", stop=task.stop)  # loads the model once
    backend.generate(requests, Decoding(temperature=0.7))    # sampled
    backend.generate(requests, Decoding(temperature=0.0))    # greedy, same loaded model
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from computematch.backends import BACKENDS
from computematch.config import Decoding, RayConfig, RuntimeConfig
from computematch.sampling.base import Backend, Completion, Request, cut_at_stop, get_backend


@contextlib.contextmanager
def backend_session(name: str, model_dir, device: str = "cpu", stop: tuple[str, ...] = (),
                    runtime: RuntimeConfig | None = None, ray: RayConfig | None = None) -> Iterator[Backend]:
    """The backend a stage samples with: in this process, or over `ray.workers` Ray workers (ray_pool.py), which
    are started with the stage and stopped with it."""
    if ray is None or ray.workers <= 1:
        yield get_backend(name, model_dir, device, stop, runtime)
        return
    from computematch.sampling.ray_pool import RayPool

    pool = RayPool(name, model_dir, device, stop, runtime, ray.workers, ray.address, ray.temp_dir)
    try:
        yield pool
    finally:
        pool.close()


__all__ = ["BACKENDS", "Backend", "Completion", "Decoding", "Request", "backend_session", "cut_at_stop",
           "get_backend"]
