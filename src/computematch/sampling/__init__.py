"""Sampler backends by name ("module:Class", imported only when chosen) and the resumable sampling driver."""

from __future__ import annotations

import importlib

from computematch.config import ConfigError, RuntimeConfig, SamplingConfig
from computematch.sampling.base import Backend, Completion, Request

BACKENDS = {
    "transformers": "computematch.sampling.hf:TransformersBackend",
    "vllm": "computematch.sampling.vllm:VLLMBackend",
}


def get_backend(model_dir, config: SamplingConfig, device: str = "cpu", stop: tuple[str, ...] = (),
                runtime: RuntimeConfig | None = None) -> Backend:
    """The configured backend for `model_dir`; generation ends at EOS or at the first `stop` string (dropped).

    `runtime` carries dtype and the vllm engine's GPU settings (defaults when None)."""
    if config.backend not in BACKENDS:
        raise ConfigError(f"sampling.backend: unknown backend {config.backend!r} (known: {', '.join(BACKENDS)})")
    module_name, class_name = BACKENDS[config.backend].split(":")
    return getattr(importlib.import_module(module_name), class_name)(model_dir, config, device, stop, runtime or RuntimeConfig())


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """(text up to the first stop string, whether one was found)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


__all__ = ["BACKENDS", "Backend", "Completion", "Request", "cut_at_stop", "get_backend"]
