"""Stage `bootstrap`: every world's base models (student, wc, se) as loadable directories with cards.

    computematch bootstrap             # every world of study.worlds: models/base/{student,wc,se}/world-W/ and
                                       # metrics/bootstrap/*/world-W.json
    computematch bootstrap --world 3   # world 3 only

A `pretrain` spec trains a tiny Llama from scratch on the task's corpus; a `load` spec resolves a hub id
or local directory and points at it. A pretrained model is kept in data/resume/bootstrap/, keyed by what decides
its weights (member_store), so a rerun for a new world restores every other world's models instead of retraining. Either way the card records total and non-embedding parameter
counts (the budget's P), and the model's greedy accuracy on the validation split.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

from computematch import paths
from computematch.member_store import MEMBER_STORE, file_digest, keep, restore, store_key
from computematch.names import world_name
from computematch.config import Params
from computematch.greedy_checks import greedy_accuracy
from computematch.io import read_json, replace_dir, staging_dir
from computematch.measure.records import BaseModelRecord, write_record
from computematch.models import PARAM_COUNT_NOTE, resolve_loaded, resolve_source, weights_digest, write_card
from computematch.pretraining import pretrain_into
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime, map_workers, threads_per_process, worker_processes
from computematch.splits import load_task, read_split
from computematch.tracking import model_tags, stage_run

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


def bootstrap_model(params: Params, role: str, task, splits: dict, directory: Path, device: str,
                    desc: str | None = None) -> dict:
    """Write (or resolve) the model of `role` into `directory` and return its card: the pure core. `params` are
    the world's (Params.in_world): its pretraining seed. `desc` names the model in the progress lines."""
    started, spec = time.perf_counter(), params.model(role)
    facts = (pretrain_into(directory, spec, params.pretrain, task, splits, device, desc) if spec.pretrain is not None
             else resolve_loaded(spec))
    card = {"role": role, **facts, "parameter_count_note": PARAM_COUNT_NOTE}
    weights = Path(card.get("weights_dir") or directory)  # a `load` model's card is written after this
    card["weights_sha256"] = weights_digest(weights)
    card["val_greedy"] = greedy_accuracy(weights, task, splits["val"], device, params.runtime)
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
    return bootstrap_model(params.in_world(world), role, load_task(params.task), splits, directory, device,
                           f"pretrain@{role}/{world_name(world)}")


def record_model(params: Params, role: str, world: int, staging: Path, card: dict, threads: int,
                 restored_from: str | None = None) -> dict:
    """One finished base model: its card and folder, its metrics file and its MLflow run (curves included). A
    model restored from the store keeps its card as it was written, byte for byte, so DVC sees the same output."""
    target = paths.base_model_dir(role, world)
    if restored_from is None:
        card = {**card, "world": world, "environment": environment(threads, libraries=MODEL_LIBRARIES)}
        write_card(staging, card)
    tags = {**model_tags(world, role), **({"restored_from": restored_from} if restored_from else {})}
    with stage_run(params, f"bootstrap@{role}/{world_name(world)}", tags=tags) as tracker:
        tracker.log_sections(pretrain=params.in_world(world).pretrain, **{f"models.{role}": params.model(role)})
        replace_dir(staging, target)
        pretrained = card.get("pretrain", {})
        for step, loss in pretrained.get("loss_curve", []):
            tracker.log_metrics({"pretrain_loss": loss}, step=step)
        for step, accuracy in pretrained.get("val_checks", []):  # greedy, or sampled at pretrain.check_temperature
            tracker.log_metrics({"pretrain_val_check": accuracy}, step=step)
        metrics = bootstrap_metrics(card)
        write_record(paths.metrics_file("bootstrap", role, world), metrics)
        tracker.log_metrics({"params_total": card["parameters"]["total"],
                             "params_non_embedding": card["parameters"]["non_embedding"],
                             "val_greedy_accuracy": metrics.val_greedy_accuracy,
                             "pretrain_steps": metrics.pretrain_steps})
        tracker.log_artifact(target / "card.json")
    done = f"restored from {restored_from}" if restored_from else f"{card['seconds']:.0f} s"
    print(f"bootstrap@{role}/{world_name(world)}: {card['parameters']['total']:,} parameters, val greedy accuracy "
          f"{metrics.val_greedy_accuracy:.3f}, {done}")
    return card


def base_key(params: Params, role: str, world: int, threads: int, device: str) -> str:
    """What decides a pretrained base model's weights, hashed: its spec, the world's pretraining params, the task
    and its splits by content (the corpus, the validation split of the stop rule, every split's pieces in the
    vocabulary), plus the code, libraries, CPU and thread count (member_store.store_key)."""
    inputs = {"model": params.raw.get("models", {}).get(role), "pretrain": params.in_world(world).pretrain,
              "task": params.raw.get("task"), "device": device,
              "splits": {split: file_digest(paths.split_file(split)) for split in SPLITS}}
    return store_key(inputs, threads, MODEL_LIBRARIES)


def stored_model(params: Params, role: str, world: int, threads: int, device: str) -> Path | None:
    """Where a pretrained model is kept (None for a `load` model: its weights stay where they are)."""
    if params.model(role).pretrain is None:
        return None
    key = base_key(params, role, world, threads, device)
    return MEMBER_STORE / "bootstrap" / role / f"{world_name(world)}-{key}"


def restore_or_pretrain(params: Params, members: list[tuple[str, int]], threads: int, processes: int,
                        device: str) -> None:
    """Every (role, world) member into place: restored from the store when its key is there, else trained (side by
    side in `processes` workers of `threads` threads each), recorded, then stored."""
    entries = [stored_model(params, role, world, threads, device) for role, world in members]
    with contextlib.ExitStack() as stack:  # the staging folders outlive the workers that fill them
        stagings = [stack.enter_context(staging_dir(paths.base_model_dir(role, world))) for role, world in members]
        restored = [entry and restore(entry, staging) for entry, staging in zip(entries, stagings)]
        todo = [index for index, kept in enumerate(restored) if kept is None]
        workers = max(1, min(processes, len(todo)))
        jobs = [(params, *members[index], stagings[index], device) for index in todo]
        cards = stack.enter_context(contextlib.closing(
            map_workers(bootstrap_one, jobs, threads * workers, workers, PRETRAINING_PRELOAD)))
        for index, ((role, world), staging, entry) in enumerate(zip(members, stagings, entries)):
            if restored[index] is None:
                card = record_model(params, role, world, staging, next(cards), threads)
                if entry is not None:
                    keep(entry, {"seconds": card["seconds"]}, source=paths.base_model_dir(role, world))
            else:
                record_model(params, role, world, staging, read_json(staging / "card.json"), threads,
                             restored[index]["restored_from"])


def main(params: Params, worlds: tuple[int, ...] = (), roles: tuple[str, ...] = ()) -> None:
    """The base models of every world of the study (or `worlds`) and role of `models` (or `roles`), side by side
    in worker processes on a CPU, one thread each (runtime.worker_processes; `auto`: one worker per thread of
    runtime.threads, the largest models first, whatever their world): two threads speed one tiny model up less than
    two models. A model's bits depend only on its thread count (always 1 here), not on which worker trains it, when,
    or beside which other worlds. A model whose key is in the store is restored, byte for byte, not retrained."""
    worlds, roles = tuple(dict.fromkeys(worlds or params.study.worlds)), roles or tuple(params.models)
    for role in roles:
        if params.model(role).load is not None:
            resolve_source(params.model(role))  # a missing directory or hub id fails before any work
    device = apply_runtime(params.runtime)
    members = sorted(((role, world) for world in worlds for role in roles),  # the largest first, then by world
                     key=lambda member: -pretraining_cost(params.model(member[0])))
    processes = worker_processes(params.runtime, len(members), device)
    if params.runtime.worker_processes == "auto":  # one worker per thread: the largest model never shares a core
        processes = min(processes, params.runtime.threads)
    restore_or_pretrain(params, members, threads_per_process(params.runtime.threads, processes), processes, device)
