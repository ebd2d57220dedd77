"""Stage `adaptive`: the difficulty-aware WC arm of every world (adaptive.py), at the uniform WC arm's measured FLOPs.

    computematch adaptive            # data/sample/wc-adaptive/world-W.jsonl, metrics/sample/wc-adaptive/world-W.json
    computematch adaptive --world 0  # world 0 only

It reads the uniform arm's samples (data/sample/wc/world-W.jsonl) for their indices and shares the uniform arm's
resume store for the rest, so no sample is drawn twice, by either arm, and a killed run resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import replace
from statistics import mean

from computematch import paths
from computematch.adaptive import Allocation, allocate, effective_cap
from computematch.budget import card_parameters, generated_flops
from computematch.config import Params
from computematch.io import read_jsonl, write_jsonl
from computematch.measure.records import AdaptiveRecord, SampleRecord, read_record, write_record
from computematch.models import load_card
from computematch.names import ADAPTIVE, world_name
from computematch.prompting import prompt_renderer
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime
from computematch.sampling import Request, backend_session
from computematch.sampling.driver import SampleStore, batch_invariant, draw_requests, open_store, sample_records
from computematch.splits import load_task, read_split
from computematch.tracking import data_tags, stage_run


def adaptive_samples(problems, task, prompts: dict[str, str], uniform: list[dict], parameters: int, k: int, cap: int,
                     backend, decoding, store: SampleStore, batch_size: int) -> tuple[Allocation, dict]:
    """The pure core: the allocation, and how many of its samples were reused from the uniform arm, read from the
    store or drawn now. `uniform`: the uniform arm's samples file records; their FLOPs are the target."""
    reused = {(r["problem_id"], r["sample_index"]): {**r, "text": r["completion"]} for r in uniform}
    by_id, counts = {p.id: p for p in problems}, {"reused": 0, "stored": 0, "drawn": 0}

    def fetch(keys: list[tuple[str, int]]) -> list[dict]:
        found = {key: reused[key] for key in keys if key in reused}
        requests = [Request(pid, index, prompts[pid]) for pid, index in keys if (pid, index) not in found]
        records, drawn = draw_requests(backend, decoding, requests, store, batch_size)
        counts["reused"] += len(found)
        counts["stored"] += len(requests) - drawn
        counts["drawn"] += drawn
        found.update({(r["problem_id"], r["sample_index"]): r for r in records})
        return [found[key] for key in keys]

    def cost(record: dict) -> float:
        return generated_flops(parameters, record["completion_tokens"])

    target = sum(cost(r) for r in uniform)
    allocation = allocate([p.id for p in problems], fetch, lambda pid, r: task.grade(by_id[pid], r["text"]).correct,
                          cost, k, cap, target)
    return allocation, counts


def adaptive_record(problems, allocation: Allocation, counts: dict, k: int, cap: int, uniform_samples: int,
                    seconds: float, invariant: bool | None) -> AdaptiveRecord:
    levels = defaultdict(list)
    for problem in problems:
        levels[problem.difficulty].append(allocation.samples[problem.id])
    stopped = defaultdict(int)
    for reason in allocation.stopped.values():
        stopped[reason] += 1
    return AdaptiveRecord(
        k=k, cap=cap, cap_used=effective_cap(cap, uniform_samples), k_reached=allocation.k_reached,
        uniform_samples_per_problem=uniform_samples, target_flops=allocation.target, flops=allocation.flops,
        flops_ratio=allocation.flops / allocation.target, matched=allocation.matched, rounds=allocation.rounds,
        problems=len(problems),
        samples=len(allocation.records), reused=counts["reused"], stored=counts["stored"], drawn=counts["drawn"],
        stopped=dict(stopped), max_samples_per_problem=max(allocation.samples.values()),
        samples_by_difficulty={str(level): mean(n) for level, n in sorted(levels.items())},
        seconds=round(seconds, 2), batch_invariant=invariant)


def main(params: Params, worlds: tuple[int, ...] = ()) -> None:
    """The adaptive arm in every world of the study (or `worlds`), one after another: a world already allocated
    draws nothing again (its samples are in the uniform arm's resume store)."""
    for world in dict.fromkeys(worlds or params.study.worlds):
        adaptive_world(params, world)


def adaptive_world(params: Params, world: int) -> None:
    config, model_dir = params.in_world(world).sampling, paths.base_model_dir("wc", world)
    uniform_samples = read_record(paths.metrics_file("sample", "wc", world), SampleRecord).samples_per_problem
    cap = effective_cap(params.adaptive.cap, uniform_samples)
    parameters = card_parameters(load_card(model_dir), params.budget.param_count)
    task, problems = load_task(params.task), read_split("train")
    render, name = prompt_renderer(params.task, model_dir), f"adaptive@{world_name(world)}"
    prompts = {p.id: render(task.prompt(p)) for p in problems}
    # the uniform WC arm's own store: what either arm draws, the other reuses
    store = open_store(paths.RESUME, f"sample-wc-{world_name(world)}", model_dir, config.backend, config.decoding)
    with stage_run(params, name, tags=data_tags(world, ADAPTIVE)) as tracker, backend_session(
            config.backend, model_dir, apply_runtime(params.runtime), task.stop, params.runtime, params.ray) as backend:
        tracker.log_sections(adaptive=params.adaptive, sampling=config, ray=params.ray)
        started = time.perf_counter()
        allocation, counts = adaptive_samples(problems, task, prompts, read_jsonl(paths.samples_file("wc", world)),
                                              parameters, params.adaptive.k, cap, backend,
                                              config.decoding, store, config.batch_size)
        invariant = (batch_invariant(backend, config.decoding, [Request(pid, 0, prompts[pid]) for pid in prompts])
                     if counts["drawn"] else None)
        write_jsonl(paths.samples_file(ADAPTIVE, world), sample_records(allocation.records,
                                                                        {p.id: p.difficulty for p in problems}))
        record = adaptive_record(problems, allocation, counts, params.adaptive.k, params.adaptive.cap, uniform_samples,
                                 time.perf_counter() - started, invariant)
        record = replace(record, environment=environment(params.runtime.threads, config.backend, MODEL_LIBRARIES))
        write_record(paths.metrics_file("sample", ADAPTIVE, world), record)
        tracker.log_metrics({"flops": record.flops, "flops_ratio": record.flops_ratio, "samples": record.samples,
                             "drawn": record.drawn, "rounds": record.rounds, "k_reached": record.k_reached})
    print(f"{name}: {record.samples} samples ({record.reused} the uniform arm's, {record.drawn} drawn now), "
          f"{record.rounds} rounds, FLOPs {record.flops:.3e} = {record.flops_ratio:.4f} of uniform WC's"
          + ("" if record.matched else " (below 98%: every problem at the cap, or one sample above 2% of the budget)")
          + f"; k {record.k} (reached {record.k_reached}), cap {record.cap_used}; stopped "
          + ", ".join(f"{n} at {reason}" for reason, n in record.stopped.items()))
