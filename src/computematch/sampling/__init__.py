"""Sampler backends by name ("module:Class", imported only when chosen) and the resumable sampling driver.

    backend = get_backend("transformers", "models/base/wc", device="cpu", stop=task.stop)  # loads the model once
    backend.generate(requests, Decoding(temperature=0.7))    # sampled
    backend.generate(requests, Decoding(temperature=0.0))    # greedy, same loaded model
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Iterator

from computematch.config import ConfigError, Decoding, RayConfig, RuntimeConfig
from computematch.sampling.base import Backend, Completion, Request

BACKENDS = {
    "transformers": "computematch.sampling.hf:TransformersBackend",
    "vllm": "computematch.sampling.vllm:VLLMBackend",
}


def get_backend(name: str, model_dir, device: str = "cpu", stop: tuple[str, ...] = (),
                runtime: RuntimeConfig | None = None) -> Backend:
    """Backend `name` holding the model at `model_dir`; generation ends at EOS or at the first `stop` string (dropped).

    `runtime` carries dtype and the vllm engine's GPU settings (defaults when None). Decoding settings are given
    per call, so one loaded model serves sampled and greedy decoding alike."""
    if name not in BACKENDS:
        raise ConfigError(f"sampling.backend: unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(model_dir, device, stop, runtime or RuntimeConfig())


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


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """(text up to the first stop string, whether one was found)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


__all__ = ["BACKENDS", "Backend", "Completion", "Decoding", "Request", "backend_session", "cut_at_stop",
           "get_backend"]
