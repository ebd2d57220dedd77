"""Draw S samples per problem through a backend, appending each finished batch to a resume store.

The store is a JSONL file named by a fingerprint of everything that decides a sample (model weights,
backend, temperature, top_p, max_new_tokens, seed). Because each sample is a pure function of its key
(see streams.py), a store's records stay valid when the budget changes: an interrupted run resumes, a
larger budget draws only the new sample indices, and a smaller one reads a prefix.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Sequence

from computematch.config import Decoding
from computematch.sampling.base import Backend, Completion, Request


def fingerprint(**settings) -> str:
    canonical = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def prompt_digest(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:12]


class SampleStore:
    """Append-only JSONL of finished samples; a torn last line (killed mid-write) is dropped on load."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.records: dict[tuple[str, int], dict] = {}
        self.dropped_lines = 0
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    record = json.loads(line)
                    self.records[(record["problem_id"], record["sample_index"])] = record
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.dropped_lines += 1

    def get(self, request: Request) -> dict | None:
        record = self.records.get((request.problem_id, request.sample_index))
        if record is not None and record.get("prompt_digest") == prompt_digest(request.prompt):
            return record
        return None  # absent, or drawn for a different prompt under the same id

    def append(self, records: Sequence[dict]) -> None:
        """Whole lines, under an exclusive lock: queued experiments running side by side share a store."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps(record) + "\n" for record in records)
        with self.path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(lines)
            handle.flush()
        self.records.update({(record["problem_id"], record["sample_index"]): record for record in records})


def open_store(directory: Path, name: str, model_dir, backend: str, decoding: Decoding) -> SampleStore:
    """The resume store for samples of the model at `model_dir` drawn by `backend` under `decoding`.

    Named by a fingerprint of the weights and of every setting that decides a sample (not batch size).
    """
    from computematch.errors import MissingInputError
    from computematch.models import load_card, resolve_weights, weights_digest

    try:
        weights = load_card(model_dir).get("weights_sha256")
    except MissingInputError:  # no card: hash the weights themselves
        weights = None
    weights = weights or weights_digest(resolve_weights(model_dir)[0])
    settings = fingerprint(weights=weights, backend=backend, temperature=decoding.temperature, top_p=decoding.top_p,
                           max_new_tokens=decoding.max_new_tokens, seed=decoding.seed)
    return SampleStore(Path(directory) / f"{name}-{settings}.jsonl")


def _record(request: Request, completion: Completion) -> dict:
    return {
        "problem_id": request.problem_id,
        "sample_index": request.sample_index,
        "prompt_digest": prompt_digest(request.prompt),
        **asdict(completion),
    }


def draw_requests(backend: Backend, decoding: Decoding, wanted: Sequence[Request], store: SampleStore, batch_size: int,
                  progress: Callable[[int], None] | None = None) -> tuple[list[dict], int]:
    """The samples `wanted` (any problems and sample indices), in that order: those already in the store reused,
    the rest drawn in batches and appended to the store batch by batch. Returns (records, number newly drawn)."""
    pending = [request for request in wanted if store.get(request) is None]
    # Similar prompt lengths together waste less padding; the order cannot change any sample.
    pending.sort(key=lambda request: (len(request.prompt), request.problem_id, request.sample_index))
    if progress is not None:
        progress(len(wanted) - len(pending))  # reused from the store
    for start in range(0, len(pending), batch_size):
        batch = pending[start: start + batch_size]
        completions = backend.generate(batch, decoding)
        if len(completions) != len(batch):
            raise RuntimeError(f"backend returned {len(completions)} completions for {len(batch)} requests")
        store.append([_record(request, completion) for request, completion in zip(batch, completions)])
        if progress is not None:
            progress(len(batch))
    return [store.get(request) for request in wanted], len(pending)


def draw(backend: Backend, decoding: Decoding, prompts: dict[str, str], samples_per_problem: int, store: SampleStore,
         batch_size: int, progress: Callable[[int], None] | None = None) -> tuple[list[dict], int]:
    """All S samples of every problem in `prompts` (id -> prompt), in (problem, sample index) order.

    Returns (records, number newly drawn). Samples already in the store are reused, not redrawn.
    """
    wanted = [Request(pid, index, prompt) for pid, prompt in prompts.items() for index in range(samples_per_problem)]
    return draw_requests(backend, decoding, wanted, store, batch_size, progress)


def sample_records(records: list[dict], difficulty: dict[str, int]) -> list[dict]:
    """The samples file's records (problem, sample index, difficulty, completion, token counts) from the store's."""
    return [{"problem_id": r["problem_id"], "sample_index": r["sample_index"], "difficulty": difficulty[r["problem_id"]],
             "completion": r["text"], "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
             "finished": r["finished"]} for r in records]


def batch_invariant(backend: Backend, decoding: Decoding, requests: list[Request], probes: int = 4) -> bool:
    """Whether the first `probes` requests come out the same alone as in one batch with the rest of `requests`.

    Nested budgets and resume rest on a sample not depending on its batch. Exact on the transformers backend and
    on vLLM in float32 on CPU; low-precision GPU kernels may reduce in batch-dependent order (vLLM documents
    this), so the stages check on a few requests and warn.
    """
    batch = requests[: max(probes, 1) * 4]
    together = backend.generate(batch, decoding)[:probes]
    alone = [backend.generate([request], decoding)[0] for request in batch[:probes]]
    return [c.text for c in together] == [c.text for c in alone]


def draw_checked(backend: Backend, decoding: Decoding, prompts: dict[str, str], samples_per_problem: int,
                 store: SampleStore, batch_size: int, desc: str) -> tuple[list[dict], int, bool | None]:
    """`draw` with progress shown under `desc`, then, when anything was drawn, the batch-invariance check:
    (records, number drawn, invariant or None when nothing was drawn). A failed check is a one-line warning."""
    from computematch.progress import Progress

    with Progress(len(prompts) * samples_per_problem, desc, unit="sample") as progress:
        records, drawn = draw(backend, decoding, prompts, samples_per_problem, store, batch_size, progress.update)
    if not drawn:
        return records, drawn, None
    invariant = batch_invariant(backend, decoding, [Request(pid, 0, prompt) for pid, prompt in prompts.items()])
    if not invariant:
        print(f"warning: {desc}: the {backend.name} backend's samples depend on their batch here, so nested budgets "
              "and resumed runs are not exact (README, vLLM: which settings are safe)", file=sys.stderr)
    return records, drawn, invariant
