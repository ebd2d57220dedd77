"""Calibration round 5 (docs/calibration.md): every candidate stop rule of WC and SE from one pretraining per model.

    python benchmarks/calibrate_stops.py --worlds 200 201 202 203 --out benchmarks/results/calibrate-round5.jsonl

A stop rule ends pretraining at the first validation check (every pretrain.check_every steps) whose accuracy
reaches a target, and the weights at a step do not depend on whether training goes on after it (the schedule is
fixed by pretrain.steps, checks draw no random numbers). So one pretraining per (world, role), scored at every
check under every candidate metric (greedy, and one sample per validation problem at each candidate
temperature), gives the model every candidate rule would have stopped at: the probe saves the weights at the
first check reaching each candidate target and trains on until every target is reached or the schedule ends.
Then each candidate recipe (stop metric, WC target, SE target, sampling temperature) is scored on the paper's
observables at the default budget (S_SE = budget.se_samples, S_WC from the cards) on the train split, as the
sample and filter stages draw and grade them: coverage, diversity, FPR and sample accuracy (coverage@1) of each
arm. One JSON line per measurement; nothing in the repository changes. Run by hand on an otherwise idle machine.
Models train as the bootstrap stage trains them (one thread each, side by side), with the params file's recipe
plus `--set` overrides (round 5: pretrain.pack=true).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).parent))

from calibrate import override, sample_quality  # noqa: E402

TEMPERATURES = (0.35, 0.5, 0.7)
TARGETS = {"wc": (0.5, 0.6, 0.7), "se": (0.6, 0.7, 0.8)}


def metric_names(temperatures) -> list[str]:
    return ["greedy"] + [f"sampled@{t}" for t in temperatures]


def probe_role(params, role: str, world: int, out_dir: Path, targets: tuple, temperatures: tuple) -> dict:
    """Pretrain world's `role` with every candidate check; save the weights at each (metric, target)'s first hit."""
    import torch

    from computematch.config import Decoding
    from computematch.greedy_checks import greedy_scorer, solution_budget
    from computematch.models import count_parameters, task_tokenizer
    from computematch.pretraining import pretrain
    from computematch.sampling import Request
    from computematch.sampling.hf import TransformersBackend
    from computematch.splits import load_task, read_split

    import copy
    import dataclasses

    params = params.in_world(world)
    task = load_task(params.task)
    splits = {split: read_split(split) for split in ("corpus", "train", "val", "test")}
    tokenizer = task_tokenizer(task, splits)
    val = splits["val"]
    greedy = greedy_scorer(task, val, tokenizer)
    left = copy.deepcopy(tokenizer)
    left.padding_side = "left"
    budget = solution_budget(val)
    hits: dict[str, dict[float, int]] = {m: {} for m in metric_names(temperatures)}
    curve = []
    out_dir.mkdir(parents=True, exist_ok=True)

    def sampled(model, temperature: float) -> float:
        backend = TransformersBackend.from_loaded(model, left, "cpu", task.stop)
        decoding = Decoding(temperature=temperature, top_p=1.0, max_new_tokens=budget, seed=params.pretrain.seed)
        completions = backend.generate([Request(p.id, 0, task.prompt(p)) for p in val], decoding)
        return sum(task.grade(p, c.text).correct for p, c in zip(val, completions)) / len(val)

    state = {"step": 0}

    def score(model) -> float:
        state["step"] += params.pretrain.check_every
        step = state["step"]
        row = {"step": step}
        for metric in metric_names(temperatures):
            if len(hits[metric]) == len(targets):
                continue  # every target of this metric already reached
            value = greedy(model) if metric == "greedy" else sampled(model, float(metric.split("@")[1]))
            row[metric] = round(value, 4)
            for target in targets:
                if target not in hits[metric] and value >= target:
                    hits[metric][target] = step
                    path = out_dir / f"step-{step}.pt"
                    if not path.exists():
                        torch.save(model.state_dict(), path)
        curve.append(row)
        return 1.0 if all(len(h) == len(targets) for h in hits.values()) else 0.0

    config = dataclasses.replace(params.pretrain)
    corpus = splits["corpus"]
    model, stats = pretrain(params.model(role).pretrain, tokenizer, [task.prompt(p) for p in corpus],
                            [p.solution for p in corpus], config, desc=f"probe@{role}/{world}", score=score,
                            stop_at=1.0)
    tokenizer.save_pretrained(out_dir / "tokenizer")
    model.config.save_pretrained(out_dir / "tokenizer")
    return {"world": world, "role": role, "hits": {m: {str(t): s for t, s in h.items()} for m, h in hits.items()},
            "curve": curve, "trained_steps": stats["steps"], "seconds": stats["seconds"],
            "non_embedding": count_parameters(model)["non_embedding"]}


def snapshot_dir(out_dir: Path, step: int) -> Path:
    """A loadable model directory for the weights saved at `step` (made once)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    directory = out_dir / f"model-{step}"
    if not directory.exists():
        model = LlamaForCausalLM(LlamaConfig.from_pretrained(out_dir / "tokenizer"))
        model.load_state_dict(torch.load(out_dir / f"step-{step}.pt"))
        model.save_pretrained(directory)
        for item in (out_dir / "tokenizer").iterdir():
            if item.name != "config.json":
                (directory / item.name).write_bytes(item.read_bytes())
    return directory


def quality_job(params, world: int, role: str, out_dir: Path, step: int, temperature: float, samples: int) -> dict:
    from computematch.splits import load_task, read_split

    params = params.in_world(world)
    task = load_task(params.task)
    train = read_split("train")
    store = out_dir / f"samples-{step}-{temperature}.jsonl"
    started = time.perf_counter()
    quality = sample_quality(snapshot_dir(out_dir, step), task, train, samples, params, "cpu", store, temperature)
    return {"world": world, "role": role, "step": step, "quality": quality,
            "seconds": round(time.perf_counter() - started, 1)}


# Round 5's criteria per world (issue 29), at the default budget: each a (name, test of WC's and SE's quality).
CRITERIA = {
    "coverage +5..+11": lambda wc, se: 5 <= 100 * (wc["coverage"] - se["coverage"]) <= 11,
    "diversity >= 1.5x": lambda wc, se: wc["diversity"] >= 1.5 * se["diversity"],
    "FPR +2..+12": lambda wc, se: 2 <= 100 * (wc["fpr"] - se["fpr"]) <= 12,
    "coverage@1 0.80-0.95": lambda wc, se: 0.80 <= wc["sample_accuracy"] / se["sample_accuracy"] <= 0.95,
}


def analyse(path: Path, current=("greedy", 0.7, 0.8, 0.35)) -> None:
    """Every candidate recipe of the file's worlds against the criteria, and the one the rule chooses."""
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    head = rows[0]
    hits = {(r["world"], r["role"]): r["hits"] for r in rows if "hits" in r}
    quality = {(r["world"], r["role"], r["step"], r["quality"]["temperature"]): r["quality"] for r in rows
               if "quality" in r}
    needed = lambda w: {(w, role, step, t) for role in ("wc", "se") for metric, h in hits[(w, role)].items()  # noqa: E731
                        for step in h.values() for t in (head["temperatures"] if metric == "greedy"
                                                         else (float(metric.split("@")[1]),))}
    worlds = sorted(w for w, role in hits if role == "wc" and (w, "se") in hits and needed(w) <= set(quality))
    candidates = [(metric, wc_t, se_t, t) for metric in ("greedy", "sampled") for wc_t in head["targets"]["wc"]
                  for se_t in head["targets"]["se"] if wc_t < se_t for t in head["temperatures"]]
    results = []
    for metric, wc_t, se_t, t in candidates:
        name = "greedy" if metric == "greedy" else f"sampled@{t}"
        per_world, steps, eligible = {}, [], True
        for world in worlds:
            wc_step = hits[(world, "wc")][name].get(str(wc_t))
            se_step = hits[(world, "se")][name].get(str(se_t))
            if wc_step is None or se_step is None:
                eligible = False
                continue
            wc, se = quality[(world, "wc", wc_step, t)], quality[(world, "se", se_step, t)]
            per_world[world] = {"met": {c: test(wc, se) for c, test in CRITERIA.items()}, "steps": (wc_step, se_step),
                                "coverage": round(100 * (wc["coverage"] - se["coverage"]), 1),
                                "diversity": round(wc["diversity"] / se["diversity"], 2),
                                "fpr": round(100 * (wc["fpr"] - se["fpr"]), 1),
                                "coverage@1": round(wc["sample_accuracy"] / se["sample_accuracy"], 2)}
            steps.append(wc_step + se_step)
        score = sum(sum(w["met"].values()) for w in per_world.values())
        results.append({"candidate": (metric, wc_t, se_t, t), "eligible": eligible, "score": score,
                        "mean_steps": sum(steps) / max(1, len(steps)), "per_world": per_world})
    order = lambda r: (-r["score"], r["mean_steps"], r["candidate"][0] != "greedy", abs(r["candidate"][3] - 0.35))  # noqa: E731
    ranked = sorted((r for r in results if r["eligible"]), key=order)
    print(f"worlds {worlds}; {len(ranked)} of {len(results)} candidates eligible; criteria met of {4 * len(worlds)}")
    print("| stop metric | WC target | SE target | T | met | mean WC+SE steps | " + " | ".join(CRITERIA) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(CRITERIA))
    chosen = ranked[0] if ranked else None
    now = next(r for r in results if r["candidate"] == current)
    for r in ranked[:12] + ([now] if now not in ranked[:12] else []):
        counts = [sum(w["met"][c] for w in r["per_world"].values()) for c in CRITERIA]
        metric, wc_t, se_t, t = r["candidate"]
        mark = " (chosen)" if r is chosen else " (current)" if r is now else ""
        print(f"| {metric}{mark} | {wc_t} | {se_t} | {t} | {r['score']} | {r['mean_steps']:.0f} | "
              + " | ".join(map(str, counts)) + " |")
    for r in (chosen, now):
        if r is None:
            continue
        print(f"\n{r['candidate']} by world:")
        for world, w in r["per_world"].items():
            print(f"  {world}: steps WC/SE {w['steps']}, coverage {w['coverage']:+}, diversity x{w['diversity']}, "
                  f"FPR {w['fpr']:+}, coverage@1 x{w['coverage@1']}: " + ", ".join(c for c, ok in w["met"].items() if ok))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--worlds", type=int, nargs="+")
    parser.add_argument("--analyse", action="store_true", help="read --out and apply the round's rule")
    parser.add_argument("--set", dest="overrides", action="append", default=["pretrain.pack=true"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--temperatures", type=float, nargs="+", default=list(TEMPERATURES))
    parser.add_argument("--wc-targets", type=float, nargs="+", default=list(TARGETS["wc"]))
    parser.add_argument("--se-targets", type=float, nargs="+", default=list(TARGETS["se"]))
    args = parser.parse_args()
    if args.analyse:
        return analyse(args.out)

    import yaml

    from computematch.budget import samples_per_arm
    from computematch.config import parse_params
    from computematch.runtime import map_workers
    from computematch.splits import write_split
    from computematch.stages.bootstrap import PRETRAINING_PRELOAD
    from computematch.stages.prepare import prepare_splits
    from computematch.tasks import get_task

    raw = yaml.safe_load(Path(args.params).read_text())
    for assignment in args.overrides:
        override(raw, assignment)
    raw.setdefault("tracking", {})["enabled"] = False
    out = args.out.resolve()
    with tempfile.TemporaryDirectory() as scratch, out.open("a") as sink:
        def emit(row: dict) -> None:
            sink.write(json.dumps(row) + "\n")
            sink.flush()
            print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)

        os.chdir(scratch)
        base = parse_params(raw)
        splits, _ = prepare_splits(get_task(base.task), base.task.decontamination_ngram)
        for split, problems in splits.items():
            write_split(split, problems)
        temperatures = tuple(args.temperatures)
        targets = {"wc": tuple(args.wc_targets), "se": tuple(args.se_targets)}
        emit({"overrides": args.overrides, "temperatures": temperatures, "targets": targets})
        for world in args.worlds:
            dirs = {role: Path(scratch) / f"{role}-{world}" for role in ("se", "wc")}
            probes = {}
            for probe in map_workers(probe_role, [(base, role, world, dirs[role], targets[role], temperatures)
                                                      for role in ("se", "wc")], 2, 2,
                                     PRETRAINING_PRELOAD):
                probes[probe["role"]] = probe
                emit(probe)
            samples, _ = samples_per_arm(base.budget, probes["wc"]["non_embedding"], probes["se"]["non_embedding"])
            jobs = sorted({(role, step, t) for role, probe in probes.items()
                           for metric, hits in probe["hits"].items() for step in hits.values()
                           for t in (temperatures if metric == "greedy" else (float(metric.split("@")[1]),))})
            jobs = [(base, world, role, dirs[role], step, t, samples[role]) for role, step, t in jobs]
            for row in map_workers(quality_job, jobs, 2, 2, PRETRAINING_PRELOAD):
                emit(row)


if __name__ == "__main__":
    main()
