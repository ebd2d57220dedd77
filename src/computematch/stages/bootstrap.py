"""Stage `bootstrap`: one world's base models (student, wc, se) as loadable directories with cards.

    computematch bootstrap 0      # writes models/base/{student,wc,se}/world-0/ and metrics/bootstrap/*/world-0.json

A `pretrain` spec trains a tiny Llama from scratch on the task's corpus; a `load` spec resolves a hub id
or local directory and points at it. Either way the card records total and non-embedding parameter
counts (the budget's P), and the model's greedy accuracy on the validation split.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from computematch import paths
from computematch.names import world_name
from computematch.config import Params
from computematch.greedy_checks import greedy_accuracy
from computematch.io import replace_dir, staging_dir
from computematch.measure.records import BaseModelRecord, write_record
from computematch.models import PARAM_COUNT_NOTE, resolve_loaded, resolve_source, weights_digest, write_card
from computematch.pretraining import pretrain_into
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime, map_workers, threads_per_process, worker_processes
from computematch.splits import load_task, read_split
from computematch.tracking import stage_run

SPLITS = ("corpus", "train", "val", "test")  # the built-in tokenizer's alphabet comes from all of them
# What a pretraining worker needs, imported once by the process it forks from (runtime.map_workers).
PRETRAINING_PRELOAD = ("torch", "transformers.modeling_utils", "transformers.models.llama.modeling_llama")


def pretraining_cost(spec) -> int:
    """A model's pretraining cost per step, roughly (layers × hidden²; 0 for a `load` model): what orders a world's
    models so that the largest starts first. The models of a world differ several-fold (SE has ~2.8x WC's
    parameters and may run the whole schedule), so with one worker per thread the largest holds a core to itself
    while the smaller ones queue on the other, instead of three models sharing two cores until the largest runs
    on alone."""
    fields = spec.pretrain or {}
    return fields.get("num_hidden_layers", 0) * fields.get("hidden_size", 0) ** 2


def bootstrap_model(params: Params, role: str, task, splits: dict, directory: Path, device: str) -> dict:
    """Write (or resolve) the model of `role` into `directory` and return its card: the pure core. `params` are
    the world's (Params.in_world): its pretraining seed."""
    started, spec = time.perf_counter(), params.model(role)
    facts = (pretrain_into(directory, spec, params.pretrain, task, splits, device) if spec.pretrain is not None
             else resolve_loaded(spec))
    card = {"role": role, **facts, "parameter_count_note": PARAM_COUNT_NOTE}
    card["weights_sha256"] = weights_digest(Path(card.get("weights_dir") or directory))
    card["val_greedy"] = greedy_accuracy(directory, task, splits["val"], device, params.runtime)
    card["seconds"] = round(time.perf_counter() - started, 2)
    return card


def bootstrap_metrics(card: dict) -> BaseModelRecord:
    pretrained = card.get("pretrain", {})
    return BaseModelRecord(parameters=card["parameters"], val_greedy_accuracy=card["val_greedy"]["accuracy"],
                           val_greedy_by_difficulty=card["val_greedy"]["by_difficulty"],
                           final_loss=pretrained.get("final_loss"), pretrain_steps=pretrained.get("steps"),
                           pretrain_seed=pretrained.get("seed"), stop_at_accuracy=pretrained.get("stop_at_accuracy"),
                           weights_sha256=card["weights_sha256"], seconds=card["seconds"],
                           environment=card["environment"])


def bootstrap_one(params: Params, role: str, world: int, directory: Path, device: str) -> dict:
    """One role of one world into `directory`: what a worker process runs, side by side with the other roles."""
    needed = SPLITS if params.model(role).pretrain is not None else ("val",)
    splits = {split: read_split(split) for split in needed}
    return bootstrap_model(params.in_world(world), role, load_task(params.task), splits, directory, device)


def record_model(params: Params, role: str, world: int, staging: Path, card: dict, threads: int) -> None:
    """One finished base model: its card and folder, its metrics file and its MLflow run (curves included)."""
    target = paths.base_model_dir(role, world)
    card = {**card, "world": world, "environment": environment(threads, libraries=MODEL_LIBRARIES)}
    with stage_run(params, f"bootstrap@{role}/{world_name(world)}", tags={"world": world, "model": role}) as tracker:
        tracker.log_sections(pretrain=params.in_world(world).pretrain, **{f"models.{role}": params.model(role)})
        write_card(staging, card)
        replace_dir(staging, target)
        pretrained = card.get("pretrain", {})
        for step, loss in pretrained.get("loss_curve", []):
            tracker.log_metrics({"pretrain_loss": loss}, step=step)
        for step, accuracy in pretrained.get("val_checks", []):
            tracker.log_metrics({"pretrain_val_greedy": accuracy}, step=step)
        metrics = bootstrap_metrics(card)
        write_record(paths.metrics_file("bootstrap", role, world), metrics)
        tracker.log_metrics({"params_total": card["parameters"]["total"],
                             "params_non_embedding": card["parameters"]["non_embedding"],
                             "val_greedy_accuracy": metrics.val_greedy_accuracy,
                             "pretrain_steps": metrics.pretrain_steps})
        tracker.log_artifact(target / "card.json")
    print(f"bootstrap@{role}/{world_name(world)}: {card['parameters']['total']:,} parameters, val greedy accuracy "
          f"{metrics.val_greedy_accuracy:.3f}, {card['seconds']:.0f} s")


def main(params: Params, world: int, roles: tuple[str, ...] = ()) -> None:
    """World `world`'s base models (every role of `models`, or `roles`), side by side in worker processes on a
    CPU, one thread each (runtime.worker_processes; `auto`: one worker per thread of runtime.threads, the largest
    model first): two threads speed one tiny model up less than two models. A model's bits depend only on its
    thread count (always 1 here), not on which worker trains it or when."""
    roles = roles or tuple(params.models)
    for role in roles:
        if params.model(role).load is not None:
            resolve_source(params.model(role))  # a missing directory or hub id fails before any work
    device = apply_runtime(params.runtime)
    roles = tuple(sorted(roles, key=lambda role: -pretraining_cost(params.model(role))))  # the largest first
    processes = worker_processes(params.runtime, len(roles), device)
    if params.runtime.worker_processes == "auto":  # one worker per thread: the largest model never shares a core
        processes = min(processes, params.runtime.threads)
    threads = threads_per_process(params.runtime.threads, processes)  # what each card records
    with contextlib.ExitStack() as stack:  # the staging folders outlive the workers that fill them
        stagings = [stack.enter_context(staging_dir(paths.base_model_dir(role, world))) for role in roles]
        jobs = [(params, role, world, staging, device) for role, staging in zip(roles, stagings)]
        cards = stack.enter_context(contextlib.closing(
            map_workers(bootstrap_one, jobs, params.runtime.threads, processes, PRETRAINING_PRELOAD)))
        for role, staging, card in zip(roles, stagings, cards):
            record_model(params, role, world, staging, card, threads)
