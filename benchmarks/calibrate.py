"""Calibrate the built-in default on base-model statistics only: accuracy, sample quality and guessability.

    python benchmarks/calibrate.py --worlds 100 101 102 103           # the params.yaml default
    python benchmarks/calibrate.py --worlds 0 --set pretrain.steps=400 --roles wc se
    python benchmarks/calibrate.py --temperatures 0.7 0.5 0.3         # sample quality at several temperatures

Prints the guessing baseline of the task (per level, the share of test problems whose answer is the most
common answer of that level in train + corpus), then for each world pretrains its roles from scratch in a
scratch directory exactly as the bootstrap stage does (the stage's own bootstrap_one, side by side, one thread
each: the same bits as `dvc repro` on this machine for that world) and measures:

- greedy accuracy on the test split, overall and by difficulty;
- for wc and se, the data the `sample` stage would draw at the default budget (S_SE = budget.se_samples,
  S_WC = round(S_SE · P_SE / P_WC), sampling.temperature / top_p and the world's seed on the train split, a token budget fit
  for the gold solutions): coverage, and the false-positive rate (right answer, steps that do not all check out,
  over right answers).

One JSON line per (world, role) and a summary; nothing in the repository changes. Run by hand, on an otherwise
idle machine, before any finetuning result is seen (docs/calibration.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def override(raw: dict, assignment: str) -> None:
    import yaml

    key, value = assignment.split("=", 1)
    *parents, leaf = key.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = yaml.safe_load(value)


def sample_quality(model_dir: Path, task, problems: list, samples: int, params, device: str, store: Path,
                   temperature: float) -> dict:
    """Coverage and FPR of `samples` samples per problem at `temperature`, drawn and graded as the sample and
    filter stages draw and grade them."""
    from computematch.config import Decoding
    from computematch.greedy_checks import solution_budget
    from computematch.measure.quality import data_quality
    from computematch.prompting import prompt_renderer
    from computematch.sampling import get_backend
    from computematch.sampling.driver import SampleStore, draw
    from computematch.stages.filter import grade_all, group_samples
    from computematch.sampling.driver import sample_records

    config = params.sampling
    decoding = Decoding(temperature=temperature, top_p=config.top_p,
                        max_new_tokens=solution_budget(problems), seed=config.seed)
    backend = get_backend("transformers", model_dir, device, stop=task.stop, runtime=params.runtime)
    render = prompt_renderer(params.task, model_dir)
    records, _ = draw(backend, decoding, {p.id: render(task.prompt(p)) for p in problems}, samples, SampleStore(store),
                      config.batch_size)
    by_problem = group_samples(problems, sample_records(records, {p.id: p.difficulty for p in problems}), samples)
    graded, _ = grade_all(task, problems, by_problem)
    quality = data_quality([graded[p.id] for p in problems], samples)
    return {"samples_per_problem": samples, "temperature": temperature, "coverage": round(quality.coverage, 4),
            "fpr": None if quality.fpr is None else round(quality.fpr, 4),
            "diversity": round(quality.diversity, 4), "sample_accuracy": round(quality.sample_accuracy, 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--worlds", type=int, nargs="+", default=[100, 101, 102, 103],
                        help="worlds to draw (default: ones no reported study uses)")
    parser.add_argument("--roles", nargs="+", default=["student", "wc", "se"])
    parser.add_argument("--temperatures", type=float, nargs="+", default=None,
                        help="sampling temperatures to measure sample quality at (default: sampling.temperature)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    args = parser.parse_args()

    import yaml

    from computematch.budget import card_parameters, samples_per_arm
    from computematch.config import parse_params
    from computematch.greedy_checks import greedy_accuracy
    from computematch.runtime import apply_runtime, map_workers, worker_processes
    from computematch.splits import write_split
    from computematch.stages.bootstrap import PRETRAINING_PRELOAD, bootstrap_one
    from computematch.measure.codec import to_json
    from computematch.measure.quality import guessing_baseline
    from computematch.stages.prepare import prepare_splits
    from computematch.tasks import get_task

    raw = yaml.safe_load(Path(args.params).read_text())
    for assignment in args.overrides:
        override(raw, assignment)
    raw.setdefault("tracking", {})["enabled"] = False
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        base = parse_params(raw)
        task = get_task(base.task)
        splits, _ = prepare_splits(task, base.task.decontamination_ngram)
        for split, problems in splits.items():
            write_split(split, problems)
        guessing = guessing_baseline(splits["test"], splits["corpus"])  # what metrics/data/*.json report, on test
        print(json.dumps({"guessing_baseline": to_json(guessing)}), flush=True)
        for world in args.worlds:  # a world: every seed of params.yaml shifted by it (Params.in_world)
            params = base.in_world(world)
            device = apply_runtime(params.runtime)
            processes = worker_processes(params.runtime, len(args.roles), device)
            jobs = [(base, role, world, Path(scratch) / f"{role}-{world}", device) for role in args.roles]
            cards = dict(zip(args.roles, map_workers(bootstrap_one, jobs, params.runtime.threads, processes,
                                                     PRETRAINING_PRELOAD)))
            for role in args.roles:
                staging = Path(scratch) / f"{role}-{world}"
                started = time.perf_counter()
                accuracy = greedy_accuracy(staging, task, splits["test"], device, params.runtime)
                row = {"world": world, "role": role, "params": cards[role]["parameters"]["non_embedding"],
                       "test_greedy": round(accuracy["accuracy"], 4),
                       "by_difficulty": {k: round(v, 3) for k, v in accuracy["by_difficulty"].items()},
                       "final_loss": cards[role]["pretrain"]["final_loss"],
                       "pretrain_seconds": cards[role]["pretrain"]["seconds"],
                       "pretrain_steps": cards[role]["pretrain"]["steps"],
                       "eval_seconds": round(time.perf_counter() - started, 1)}
                results.append(row)
                print(json.dumps(row), flush=True)
            if {"wc", "se"} <= set(cards):
                samples, _ = samples_per_arm(params.budget, card_parameters(cards["wc"], params.budget.param_count),
                                             card_parameters(cards["se"], params.budget.param_count))
                for arm in ("wc", "se"):
                    for temperature in args.temperatures or [params.sampling.temperature]:
                        started = time.perf_counter()
                        store = Path(scratch) / f"samples-{arm}-{world}-{temperature}.jsonl"
                        quality = sample_quality(Path(scratch) / f"{arm}-{world}", task, splits["train"], samples[arm],
                                                 params, device, store, temperature)
                        row = {"world": world, "role": arm, "budget": quality,
                               "sample_seconds": round(time.perf_counter() - started, 1)}
                        next(r for r in results if r["world"] == world and r["role"] == arm).setdefault(
                            "by_temperature", {})[temperature] = quality
                        print(json.dumps(row), flush=True)
    print("overrides:", args.overrides, file=sys.stderr)
    print("guessing baseline (a level's most common corpus answer), test problems: "
          + ", ".join(f"{level}: {share:.0%}" for level, share in guessing["by_difficulty"].items())
          + "; corpus: " + ", ".join(f"{level}: {share:.1%}"
                                     for level, share in guessing["reference"]["by_difficulty"].items()))
    for role in args.roles:
        values = [r["test_greedy"] for r in results if r["role"] == role]
        seconds = [r["pretrain_seconds"] for r in results if r["role"] == role]
        steps = [r["pretrain_steps"] for r in results if r["role"] == role]
        print(f"{role}: test greedy {values} mean {sum(values) / len(values):.3f}; pretrain steps {steps}, "
              f"seconds {seconds}")
    for world in args.worlds:
        row = {r["role"]: r for r in results if r["world"] == world}
        if {"wc", "se"} <= set(row):
            wc, se = row["wc"], row["se"]
            print(f"world {world}: WC/SE accuracy {wc['test_greedy'] / max(se['test_greedy'], 1e-9):.3f}, "
                  f"P_SE/P_WC {se['params'] / wc['params']:.2f}")
            for temperature, wc_quality in wc["by_temperature"].items():
                se_quality = se["by_temperature"][temperature]
                print(f"  T={temperature}, S_WC={wc_quality['samples_per_problem']}, "
                      f"S_SE={se_quality['samples_per_problem']}: coverage WC {wc_quality['coverage']} "
                      f"SE {se_quality['coverage']}, FPR WC {wc_quality['fpr']} SE {se_quality['fpr']}")


if __name__ == "__main__":
    main()
