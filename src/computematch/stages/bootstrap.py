"""Stage `bootstrap`: one base model (student, wc or se) as a loadable directory with a card.

    computematch bootstrap wc     # writes models/base/wc/ and metrics/bootstrap/wc.json

A `pretrain` spec trains a tiny Llama from scratch on the task's corpus; a `load` spec resolves a hub id
or local directory and points at it. Either way the card records total and non-embedding parameter
counts (the budget's P), and the model's greedy accuracy on the validation split.
"""

from __future__ import annotations

import time
from pathlib import Path

from computematch import paths
from computematch.config import Params
from computematch.evaluation import greedy_accuracy
from computematch.io import replace_dir, staging_dir, write_json
from computematch.models import (
    PARAM_COUNT_NOTE, pretrain_into, resolve_loaded, resolve_source, weights_digest, write_card,
)
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime
from computematch.splits import load_task, read_split
from computematch.tracking import stage_run

SPLITS = ("corpus", "train", "val", "test")  # the built-in tokenizer's alphabet comes from all of them


def bootstrap_model(params: Params, role: str, task, splits: dict, directory: Path, device: str,
                    on_log=None) -> dict:
    """Write (or resolve) the model of `role` into `directory` and return its card: the pure core."""
    started, spec = time.perf_counter(), params.model(role)
    facts = (pretrain_into(directory, spec, params.pretrain, task, splits, on_log, device) if spec.pretrain is not None
             else resolve_loaded(spec))
    card = {"role": role, **facts, "parameter_count_note": PARAM_COUNT_NOTE}
    card["weights_sha256"] = weights_digest(Path(card.get("weights_dir") or directory))
    card["val_greedy"] = greedy_accuracy(directory, task, splits["val"], device, params.runtime)
    card["seconds"] = round(time.perf_counter() - started, 2)
    card["environment"] = environment(params.runtime.threads, libraries=MODEL_LIBRARIES)
    return card


def bootstrap_metrics(card: dict) -> dict:
    pretrained = card.get("pretrain", {})
    return {"parameters": card["parameters"], "val_greedy_accuracy": card["val_greedy"]["accuracy"],
            "val_greedy_by_difficulty": card["val_greedy"]["by_difficulty"],
            "final_loss": pretrained.get("final_loss"), "pretrain_steps": pretrained.get("steps"),
            "stop_at_accuracy": pretrained.get("stop_at_accuracy"), "seconds": card["seconds"],
            "environment": card["environment"]}


def main(params: Params, role: str) -> None:
    spec = params.model(role)  # an unknown role fails here, before any work
    if spec.load is not None:
        resolve_source(spec)  # and a missing directory or hub id, before any file is read
    device, target = apply_runtime(params.runtime), paths.base_model_dir(role)
    needed = SPLITS if spec.pretrain is not None else ("val",)
    task, splits = load_task(params.task), {split: read_split(split) for split in needed}
    with stage_run(params, f"bootstrap@{role}") as tracker, staging_dir(target) as staging:
        tracker.log_sections(pretrain=params.pretrain, **{f"models.{role}": spec})
        card = bootstrap_model(params, role, task, splits, staging, device,
                               on_log=lambda step, loss: tracker.log_metrics({"pretrain_loss": loss}, step=step))
        write_card(staging, card)
        replace_dir(staging, target)
        for step, accuracy in card.get("pretrain", {}).get("val_checks", []):
            tracker.log_metrics({"pretrain_val_greedy": accuracy}, step=step)
        metrics = bootstrap_metrics(card)
        write_json(paths.metrics_file("bootstrap", role), metrics)
        tracker.log_metrics({f"{role}.params_total": card["parameters"]["total"],
                             f"{role}.params_non_embedding": card["parameters"]["non_embedding"],
                             f"{role}.val_greedy_accuracy": metrics["val_greedy_accuracy"]}, summary=True)
        tracker.log_artifact(target / "card.json")
        print(f"{role}: {card['parameters']['total']:,} parameters, val greedy accuracy "
              f"{metrics['val_greedy_accuracy']:.3f}, {card['seconds']:.0f} s")
