"""Stage `sample`: S compute-matched samples per train problem from one arm (wc or se).

    computematch sample wc             # every world of study.worlds: data/sample/wc/world-W.jsonl, metrics/sample/wc/...
    computematch sample wc --world 0   # world 0 only

S_SE = budget.se_samples; S_WC = round(ratio · S_SE) with ratio = P_SE / P_WC from the model cards
(budget.ratio: auto) or a fixed number (budget.py), both from the world's own base models. The world's sampling
seed is sampling.seed + world (config.world_seed). Samples go to a resume store first (data/resume/), so an
interrupted run continues where it stopped, and a changed budget reuses every sample already drawn.
"""

from __future__ import annotations

import time

from computematch import paths
from computematch.budget import card_parameters, ledger, samples_per_arm
from computematch.names import world_name
from computematch.config import BudgetConfig, Params
from computematch.io import write_jsonl
from computematch.measure.records import SampleRecord, write_record
from computematch.models import load_card
from computematch.prompting import prompt_renderer
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime
from computematch.sampling import backend_session
from computematch.sampling.driver import draw_checked, open_store, sample_records
from computematch.splits import load_task, read_split
from computematch.tracking import data_tags, stage_run


def arm_samples(budget: BudgetConfig, arm: str, wc_card: dict | None, se_card: dict) -> tuple[int, float]:
    """(S, ratio) of one arm: SE's by definition, WC's matched to SE's compute from both cards."""
    if arm == "se":
        return budget.se_samples, 1.0
    samples, ratio = samples_per_arm(budget, card_parameters(wc_card, budget.param_count),
                                     card_parameters(se_card, budget.param_count))
    return samples["wc"], ratio


def sample_summary(records: list[dict], drawn: int, samples: int, ratio: float, problems: int, parameters: dict,
                   seconds: float) -> dict:
    """What the stage reports: the budget, reuse, speed and the measured FLOPs ledger."""
    cost = ledger(parameters, sum(r["prompt_tokens"] for r in records),
                  sum(r["completion_tokens"] for r in records), len(records))
    drawn_tokens = cost["completion_tokens"] * drawn / max(1, len(records))
    return {"samples_per_problem": samples, "ratio": ratio, "problems": problems, "drawn": drawn,
            "reused": len(records) - drawn, "seconds": round(seconds, 2),
            "generated_tokens_per_second": round(drawn_tokens / seconds, 1) if drawn else None,
            "unfinished": sum(not r["finished"] for r in records), **cost}


def main(params: Params, arm: str, worlds: tuple[int, ...] = ()) -> None:
    """The arm's samples in every world of the study (or `worlds`), one after another in this process: a world
    already sampled draws nothing (its samples are all in the resume store), so a new world draws only its own."""
    for world in dict.fromkeys(worlds or params.study.worlds):
        sample_world(params, arm, world)


def sample_world(params: Params, arm: str, world: int) -> None:
    config, model_dir = params.in_world(world).sampling, paths.base_model_dir(arm, world)
    card, se_card = load_card(model_dir), load_card(paths.base_model_dir("se", world))
    samples, ratio = arm_samples(params.budget, arm, card, se_card)
    task, problems = load_task(params.task), read_split("train")
    render, name = prompt_renderer(params.task, model_dir), f"sample@{arm}/{world_name(world)}"
    store = open_store(paths.RESUME, f"sample-{arm}-{world_name(world)}", model_dir, config.backend, config.decoding)
    with stage_run(params, name, tags=data_tags(world, arm)) as tracker, backend_session(
            config.backend, model_dir, apply_runtime(params.runtime), task.stop, params.runtime, params.ray) as backend:
        tracker.log_sections(sampling=config, budget=params.budget, ray=params.ray)
        started = time.perf_counter()
        records, drawn, invariant = draw_checked(backend, config.decoding, {p.id: render(task.prompt(p)) for p in problems},
                                                 samples, store, config.batch_size, name)
        write_jsonl(paths.samples_file(arm, world), sample_records(records, {p.id: p.difficulty for p in problems}))
        summary = {**sample_summary(records, drawn, samples, ratio, len(problems), card["parameters"],
                                    time.perf_counter() - started), "batch_invariant": invariant}
        write_record(paths.metrics_file("sample", arm, world), SampleRecord(
            **summary, environment=environment(params.runtime.threads, config.backend, MODEL_LIBRARIES)))
        tracker.log_metrics(summary)
        print(f"{name}: S={samples} (ratio {ratio:.3f}), {len(records)} samples ({drawn} drawn now, "
              f"{summary['reused']} reused); FLOPs {summary['flops'][params.budget.param_count]:.3e}")
