"""The sampler interface every backend implements, and a backend loaded by its registry name."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Protocol

from computematch.backends import BACKENDS
from computematch.errors import ConfigError
from computematch.config import Decoding, RuntimeConfig


@dataclass(frozen=True)
class Request:
    problem_id: str
    sample_index: int  # with the seed and problem id, the key of this sample's random stream
    prompt: str


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int  # generated tokens, the end-of-sequence token included when it was produced
    finished: bool  # False when generation hit max_new_tokens


class Backend(Protocol):
    name: str  # its registry name: part of a resume store's fingerprint

    def generate(self, requests: list[Request], decoding: "Decoding") -> list[Completion]:
        """One completion per request, in order; a pure function of (model, decoding, request)."""


def get_backend(name: str, model_dir, device: str = "cpu", stop: tuple[str, ...] = (),
                runtime: RuntimeConfig | None = None) -> Backend:
    """Backend `name` holding the model at `model_dir`; generation ends at EOS or at the first `stop` string (dropped).

    `runtime` carries dtype and the vllm engine's GPU settings (defaults when None). Decoding settings are given
    per call, so one loaded model serves sampled and greedy decoding alike."""
    if name not in BACKENDS:
        raise ConfigError(f"sampling.backend: unknown backend {name!r} (known: {', '.join(BACKENDS)})")
    module_name, class_name = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)(model_dir, device, stop, runtime or RuntimeConfig())


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """(text up to the first stop string, whether one was found)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)
