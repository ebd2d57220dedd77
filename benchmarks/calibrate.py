"""Calibrate the built-in default: base models' greedy test accuracy over several seeds.

    python benchmarks/calibrate.py --seeds 0 1 2                      # the params.yaml default
    python benchmarks/calibrate.py --seeds 0 --set pretrain.steps=400 --roles wc se

Each seed pretrains every role from scratch (pretrain.seed = seed) in a scratch directory and measures
greedy accuracy on the test split, overall and by difficulty. Prints one JSON line per (seed, role) and
a summary; nothing in the repository changes. Run by hand, on an otherwise idle machine.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--roles", nargs="+", default=["student", "wc", "se"])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    args = parser.parse_args()

    import yaml

    from computematch.config import parse_params
    from computematch.evaluation import greedy_accuracy
    from computematch.models import pretrain_into
    from computematch.runtime import apply_runtime
    from computematch.splits import write_split
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
        for seed in args.seeds:
            raw["pretrain"]["seed"] = seed
            params = parse_params(raw)
            device = apply_runtime(params.runtime)
            for role in args.roles:
                started = time.perf_counter()
                staging = Path(scratch) / f"{role}-{seed}"
                card = pretrain_into(staging, params.model(role), params.pretrain, task, splits)
                accuracy = greedy_accuracy(staging, task, splits["test"], device, params.runtime)
                row = {"seed": seed, "role": role, "params": card["parameters"]["non_embedding"],
                       "test_greedy": round(accuracy["accuracy"], 4),
                       "by_difficulty": {k: round(v, 3) for k, v in accuracy["by_difficulty"].items()},
                       "final_loss": card["pretrain"]["final_loss"], "seconds": round(time.perf_counter() - started, 1)}
                results.append(row)
                print(json.dumps(row), flush=True)
    print("overrides:", args.overrides, file=sys.stderr)
    for role in args.roles:
        values = [r["test_greedy"] for r in results if r["role"] == role]
        print(f"{role}: test greedy {values} mean {sum(values) / len(values):.3f}")


if __name__ == "__main__":
    main()
