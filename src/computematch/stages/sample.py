"""Stage `sample`: S compute-matched samples per train problem from one arm (wc or se).

    computematch sample wc     # writes data/sample/wc.jsonl and metrics/sample/wc.json

S_SE = budget.se_samples; S_WC = round(ratio · S_SE) with ratio = P_SE / P_WC from the model cards
(budget.ratio: auto) or a fixed number. Samples go to a resume store first (data/resume/), so an
interrupted run continues where it stopped, and a changed budget reuses every sample already drawn.
"""

from __future__ import annotations

import time

from computematch import paths
from computematch.budget import compute_matched_samples, ledger, sampling_ratio
from computematch.config import ConfigError, Params
from computematch.io import write_json, write_jsonl
from computematch.models import load_card
from computematch.stages.prepare import read_split

ARMS = ("wc", "se")


def budget_parameters(params: Params, role: str) -> int:
    """P of one model as the budget counts it (budget.param_count)."""
    return int(load_card(paths.base_model_dir(role))["parameters"][params.budget.param_count])


def samples_per_problem(params: Params, arm: str) -> tuple[int, float]:
    """(S, ratio) for one arm; for SE the ratio is 1 by definition."""
    if arm == "se":
        return params.budget.se_samples, 1.0
    if params.budget.ratio == "auto":
        ratio = sampling_ratio(params.budget, budget_parameters(params, "wc"), budget_parameters(params, "se"))
    else:
        ratio = float(params.budget.ratio)
    return compute_matched_samples(params.budget.se_samples, ratio), ratio


def check_arm(arm: str) -> None:
    if arm not in ARMS:
        raise ConfigError(f"arm {arm!r}: unknown (known: {', '.join(ARMS)})")


def main(params: Params, arm: str) -> None:
    from tqdm import tqdm

    from computematch.prompting import prompt_renderer
    from computematch.provenance import environment
    from computematch.sampling import get_backend
    from computematch.sampling.driver import draw, open_store
    from computematch.tasks import get_task
    from computematch.tracking import stage_run

    check_arm(arm)
    config, model_dir = params.sampling, paths.base_model_dir(arm)
    card = load_card(model_dir)
    samples, ratio = samples_per_problem(params, arm)
    task, problems = get_task(params.task), read_split("train")
    render = prompt_renderer(params.task, model_dir)
    prompts = {p.id: render(task.prompt(p)) for p in problems}
    store = open_store(paths.RESUME, f"sample-{arm}", model_dir, config)
    with stage_run(params, f"sample@{arm}") as tracker:
        tracker.log_params({"arm": arm, "samples_per_problem": samples, "ratio": ratio,
                            **{f"sampling.{k}": v for k, v in vars(config).items()},
                            **{f"budget.{k}": v for k, v in vars(params.budget).items()}})
        started = time.perf_counter()
        backend = get_backend(model_dir, config, params.runtime.apply(), stop=task.stop, runtime=params.runtime)
        with tqdm(total=len(problems) * samples, desc=f"sample@{arm}", unit="sample") as bar:
            records, drawn = draw(backend, prompts, samples, store, config.batch_size, progress=bar.update)
        seconds = time.perf_counter() - started
        difficulty = {p.id: p.difficulty for p in problems}
        write_jsonl(paths.samples_file(arm), ({
            "problem_id": r["problem_id"], "sample_index": r["sample_index"], "difficulty": difficulty[r["problem_id"]],
            "completion": r["text"], "prompt_tokens": r["prompt_tokens"], "completion_tokens": r["completion_tokens"],
            "finished": r["finished"]} for r in records))
        cost = ledger(card["parameters"], sum(r["prompt_tokens"] for r in records),
                      sum(r["completion_tokens"] for r in records), len(records))
        drawn_tokens = cost["completion_tokens"] * drawn / max(1, len(records))
        summary = {"samples_per_problem": samples, "ratio": ratio, "problems": len(problems), "drawn": drawn,
                   "reused": len(records) - drawn, "seconds": round(seconds, 2),
                   "generated_tokens_per_second": round(drawn_tokens / seconds, 1) if drawn else None,
                   "unfinished": sum(not r["finished"] for r in records), **cost}
        write_json(paths.metrics_file("sample", arm), {**summary, "environment": environment(params.runtime.threads,
                                                                                              config.backend)})
        tracker.log_metrics({f"{arm}.{k}": v for k, v in summary.items()}, summary=True)
        print(f"sample@{arm}: S={samples} (ratio {ratio:.3f}), {len(records)} samples ({drawn} drawn now, "
              f"{len(records) - drawn} reused) in {seconds:.1f} s; FLOPs {cost['flops'][params.budget.param_count]:.3e}")

