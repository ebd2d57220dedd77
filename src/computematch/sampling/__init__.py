"""Sampler backends by name ("module:Class", imported only when chosen) and the resumable sampling driver."""

from __future__ import annotations

import importlib

from computematch.config import ConfigError, SamplingConfig
from computematch.sampling.base import Backend, Completion, Request

BACKENDS = {
    "transformers": "computematch.sampling.hf:TransformersBackend",
}


def get_backend(model_dir, config: SamplingConfig, device: str = "cpu") -> Backend:
    if config.backend not in BACKENDS:
        raise ConfigError(f"sampling.backend: unknown backend {config.backend!r} (known: {', '.join(BACKENDS)})")
    module_name, class_name = BACKENDS[config.backend].split(":")
    return getattr(importlib.import_module(module_name), class_name)(model_dir, config, device)


__all__ = ["BACKENDS", "Backend", "Completion", "Request", "get_backend"]
