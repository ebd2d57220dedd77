"""The sampler interface every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from computematch.config import Decoding


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
