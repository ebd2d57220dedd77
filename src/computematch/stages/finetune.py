"""Stage `finetune`: a model trained on one or more data sources (one cell each), in every world (and seed).

    computematch finetune se wc se           # SE on WC data (weak-to-strong improvement) and on SE data
                                             # (self-improvement), every world of study.worlds, side by side
                                             # -> models/ft/se-wc/world-0/seed-0/, ..., models/ft/se-se/world-0/...
    computematch finetune se wc --world 1    # one cell, world 1 only -> models/ft/se-wc/world-1/seed-0/
    computematch finetune student wc-verified   # a control: WC data without its false positives

In world w, a cell trains world w's base model on world w's data with TRL seed study seed + w (config.world_seed).
The six (model, data) pairs: student on WC / SE data (distillation from each), WC on WC data
(self-improvement) / SE data (distillation), SE on WC data (weak-to-strong improvement) / SE data
(self-improvement). Same steps and batch size for both data sources; checkpoints at the Trainer's
save_steps; the one with the best greedy accuracy on the validation split is kept and registered in MLflow
as a version of `computematch-<model>-on-<data>` tagged with its world and seed. The seed is TRL's `seed` (data
order).
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import replace
from pathlib import Path

from computematch import paths
from computematch.budget import training_flops
from computematch.names import PARADIGMS, arm_of, cell_name, describe_cell, member_name, world_name, world_seed
from computematch.config import Params
from computematch.greedy_checks import greedy_accuracy
from computematch.io import read_json, read_jsonl, replace_dir, staging_dir, write_json
from computematch.measure.codec import to_json
from computematch.measure.records import FinetuneRecord, SftRecord, read_record, write_record
from computematch.member_store import MEMBER_STORE, file_digest, keep, restore, store_key
from computematch.prompting import prompt_renderer
from computematch.provenance import TRAINING_LIBRARIES, environment
from computematch.runtime import apply_runtime, map_workers, threads_per_process, worker_processes
from computematch.splits import load_task, read_split
from computematch.tracking import model_tags, stage_run

# What a member's worker process needs, imported once by the process it forks from (runtime.map_workers).
TRAINING_PRELOAD = ("torch", "transformers.modeling_utils", "trl.trainer.sft_trainer", "datasets")
TRAINER_STATE = ("optimizer.pt", "scheduler.pt", "rng_state*", "trainer_state.json", "training_args.bin")


def registered_name(role: str, arm: str) -> str:
    return f"computematch-{role}-on-{arm}"


def train_and_select(params: Params, role: str, world: int, name: str, records: list[dict], seed: int, work: Path,
                     device: str) -> dict:
    """Finetune with `seed`, score every checkpoint on validation, leave the best in `work/best`: the pure core.

    No training data (no sample had a right answer) is a counted skip, not a crash: the base model stands
    in, marked `trained: false`, so the rest of the study still runs and the report says so.
    """
    from computematch.library_fields import PEFT_KEY
    from computematch.sft import adapter_parameters, finetune, select_checkpoint
    from computematch.sft_ranks import distributed_finetune

    task, val, base = load_task(params.task), read_split("val"), paths.base_model_dir(role, world)
    score = lambda path: greedy_accuracy(path, task, val, device, params.runtime)["accuracy"]  # noqa: E731
    if not records:
        shutil.copytree(base, work / "best")
        return {"trained": False, "skipped": "no training data: no sample had a right final answer",
                "checkpoint": None, "val_greedy_by_checkpoint": {}, "val_greedy_accuracy": score(base),
                "train_loss": [], "trained_tokens": 0}
    runtime, desc, fields = params.runtime, f"finetune@{name}", {**params.finetune, "seed": seed}
    if runtime.processes > 1:
        candidates, history = distributed_finetune(base, records, fields, work / "trainer", runtime.processes,
                                                   device == "cuda", runtime.distributed_timeout_s, runtime.threads, desc)
    else:
        candidates, history = finetune(base, records, fields, work / "trainer", cuda=device == "cuda", desc=desc)
    best, scores = select_checkpoint(candidates, score)
    shutil.copytree(best, work / "best", ignore=shutil.ignore_patterns(*TRAINER_STATE))
    tokens = max((e["num_tokens"] for e in history if "num_tokens" in e), default=0)  # TRL's running count
    lora = {"peft": fields[PEFT_KEY], "trainable_parameters": adapter_parameters(work / "best")} \
        if PEFT_KEY in fields else {}
    return {"trained": True, "checkpoint": best.name, "val_greedy_by_checkpoint": scores,
            "val_greedy_accuracy": scores[best.name], "train_loss": [e for e in history if "loss" in e],
            "trained_tokens": int(tokens), **lora}


def finetune_card(role: str, data: str, world: int, seed: int, result: dict, dataset: dict, base_card: dict, seconds: float,
                  environment: dict) -> dict:
    """The finetuned model's card; an untrained stand-in points at the base model's weights, as its card did.
    `dataset`: {dataset (path), dataset_sha256, examples, ...}. Training FLOPs: 6·P per trained token."""
    inherited = {k: base_card[k] for k in ("weights_dir", "gguf_file") if not result["trained"] and k in base_card}
    adapters = result.get("trainable_parameters")  # LoRA: the adapters trained, the base frozen (budget.training_flops)
    flops = {count: training_flops(p + (adapters or 0), result["trained_tokens"], adapters)
             for count, p in base_card["parameters"].items() if count in ("total", "non_embedding")}
    return {**inherited, "model": role, "data": data, "world": world, "seed": seed, "paradigm": PARADIGMS[(role, arm_of(data))],
            **result, **dataset, "training_flops": flops, "seconds": round(seconds, 2), "environment": environment}


def registry_tags(card: dict, data: SftRecord) -> dict:
    """What a registered version says about itself: its data source and that data's quality."""
    return {"data_source": card["data"], "model": card["model"], "world": card["world"], "seed": card["seed"],
            "paradigm": card["paradigm"],
            "dataset_sha256": card["dataset_sha256"],
            **{f"data.{k}": getattr(data, k) for k in ("coverage", "diversity", "fpr", "samples_per_problem")},
            "val_greedy_accuracy": card["val_greedy_accuracy"], "trained": card["trained"],
            **({"peft": card["peft"], "trainable_parameters": card["trainable_parameters"]} if "peft" in card else {})}


def global_batch(fields: dict, processes: int) -> int:
    """Examples per optimizer step: processes × per-device batch × accumulation (TRL's defaults 8 and 1): what the
    study holds fixed between WC and SE data, whatever the number of processes."""
    return processes * fields.get("per_device_train_batch_size", 8) * fields.get("gradient_accumulation_steps", 1)


def finetune_summary(card: dict) -> FinetuneRecord:
    return FinetuneRecord(trained=card["trained"], val_greedy_accuracy=card["val_greedy_accuracy"],
                          processes=card["processes"], global_batch=card["global_batch"],
                          checkpoint_step=int(card["checkpoint"].split("-")[-1]) if card["checkpoint"] else None,
                          examples=card["examples"], trained_tokens=card["trained_tokens"],
                          training_flops=card["training_flops"], seconds=card["seconds"],
                          final_train_loss=card["train_loss"][-1]["loss"] if card["train_loss"] else None)


def log_curves(tracker, card: dict) -> None:
    """The training loss by step and the validation accuracy of every checkpoint, as MLflow curves."""
    for entry in card["train_loss"]:
        tracker.log_metrics({"train_loss": entry["loss"]}, step=int(entry["step"]))
    for checkpoint, value in card["val_greedy_by_checkpoint"].items():
        tracker.log_metrics({"val_greedy_accuracy": value}, step=int(checkpoint.split("-")[-1]))


def train_member(params: Params, role: str, data: str, world: int, seed: int, records: list[dict], work: Path,
                 device: str) -> tuple[dict, float]:
    """One member's (world, seed) training and checkpoint selection, and its seconds: what a worker process runs.
    TRL's seed is the study seed shifted by the world (config.world_seed)."""
    started = time.perf_counter()
    name = member_name(cell_name(role, data), world, seed)
    result = train_and_select(params, role, world, name, records, world_seed(seed, world), work, device)
    return result, time.perf_counter() - started


def record_member(params: Params, role: str, data: str, world: int, seed: int, examples: int, work: Path,
                  result: dict, seconds: float, threads: int) -> None:
    """One trained member of the cell: its card and folder, its registered version and MLflow run, its metrics."""
    cell = cell_name(role, data)
    target, sft = paths.finetuned_model_dir(cell, world, seed), paths.sft_file(data, world)
    quality = read_record(paths.metrics_file("sft", data, world), SftRecord)
    base_card = read_json(paths.base_model_dir(role, world) / "card.json")
    with stage_run(params, f"finetune@{member_name(cell, world, seed)}", tags=model_tags(world, role, data, seed)) as tracker:
        tracker.log_params({"model": role, "data": data, "world": world, "seed": seed, "examples": examples})
        tracker.log_sections(finetune=params.finetune)
        dataset = {"dataset": str(sft), "dataset_sha256": file_digest(sft), "examples": examples,
                   "processes": params.runtime.processes,
                   "global_batch": global_batch(params.finetune, params.runtime.processes)}
        card = finetune_card(role, data, world, seed, result, dataset, base_card, seconds,
                             environment(threads, libraries=TRAINING_LIBRARIES))
        write_json(work / "best" / "card.json", card)
        replace_dir(work / "best", target)
        log_curves(tracker, card)
        registration = tracker.register_model(target, registered_name(role, data), registry_tags(card, quality),
                                              alias=f"{world_name(world)}-seed-{seed}",
                                              description=describe_cell(role, data))
        summary = finetune_summary(card)
        tracker.log_metrics({k: v for k, v in to_json(summary).items() if k not in ("registered", "environment")})
        write_record(paths.metrics_file("finetune", cell, world, seed),
                     replace(summary, registered=registration, environment=card["environment"]))
    kept = card["checkpoint"] or "the base model (skipped: no training data)"
    print(f"finetune@{member_name(cell, world, seed)}: {examples} examples, kept {kept} (val greedy "
          f"{card['val_greedy_accuracy']:.3f}), {card['seconds']:.0f} s")


def member_key(params: Params, role: str, data: str, world: int, seed: int, threads: int, device: str) -> str:
    """What decides a member's weights, hashed: its base model and data (by content), the validation split, the
    task, finetuning and runtime params, its TRL seed and thread count, the libraries, the CPU and this code."""
    inputs = {"base": read_json(paths.base_model_dir(role, world) / "card.json")["weights_sha256"],
              "data": file_digest(paths.sft_file(data, world)), "val": file_digest(paths.split_file("val")),
              "task": params.raw.get("task"), "finetune": params.finetune, "runtime": params.raw.get("runtime"),
              "seed": world_seed(seed, world), "device": device}
    return store_key(inputs, threads, TRAINING_LIBRARIES)


def stored_member(cell: str, world: int, seed: int, key: str) -> Path:
    """Where a finished member is kept outside DVC's outputs (data/resume/, like the samples), so that a cell rerun
    for another world (or after an interruption) restores the members it already trained instead of retraining."""
    return MEMBER_STORE / "finetune" / cell / f"{world_name(world)}-seed-{seed}-{key}"


def restore_or_train(params: Params, role: str, members: list[tuple[str, int, int]], works: list[Path],
                     records: dict, threads: int, processes: int, device: str):
    """(result, seconds) of every (data, world, seed) member, in order: restored from the store when its key
    matches, else trained (side by side in `processes` workers of `threads` threads each) and then stored."""
    stores = [stored_member(cell_name(role, data), w, s, member_key(params, role, data, w, s, threads, device))
              for data, w, s in members]
    restored = [restore(store, work / "best") for store, work in zip(stores, works)]
    todo = [i for i, kept in enumerate(restored) if kept is None]
    workers = max(1, min(processes, len(todo)))
    trained = map_workers(train_member, [(params, role, *members[i], records[members[i][:2]], works[i], device)
                                         for i in todo], threads * workers, workers, TRAINING_PRELOAD)
    with contextlib.closing(trained):
        for index, (store, work) in enumerate(zip(stores, works)):
            if index in todo:
                result, seconds = next(trained)
                keep(store, {"result": result, "seconds": seconds}, source=work / "best")
            else:
                kept = restored[index]
                result, seconds = {**kept["result"], "restored_from": kept["restored_from"]}, kept["seconds"]
            yield result, seconds


def sft_records(params: Params, role: str, data: str, world: int) -> list[dict]:
    """World `world`'s SFT data on `data`, its prompts rendered for the trained model (its own chat template)."""
    render = prompt_renderer(params.task, paths.base_model_dir(role, world))
    return [{**r, "prompt": render(r["prompt"])} for r in read_jsonl(paths.sft_file(data, world))]


def main(params: Params, role: str, datas: tuple[str, ...], worlds: tuple[int, ...] = (),
         seeds: tuple[int, ...] = ()) -> None:
    """Model `role` on each data source of `datas` (one cell each), in every world and seed of the study (or those
    given), side by side in worker processes on a CPU (runtime.worker_processes); each member gets its own folder,
    card, MLflow run and registered version. A member already trained with the same inputs (member_key) is
    restored from data/resume/finetune/ instead."""
    device = apply_runtime(params.runtime)
    members = [(data, world, seed) for data in dict.fromkeys(datas) for world in worlds or params.study.worlds
               for seed in seeds or params.study.seeds]
    records = {(data, world): sft_records(params, role, data, world) for data, world, _ in members}
    processes = worker_processes(params.runtime, len(members), device, in_process=params.runtime.processes == 1)
    threads = threads_per_process(params.runtime.threads, processes)  # decided by the whole stage: same bits
    with contextlib.ExitStack() as stack:  # the staging folders outlive the workers that fill them
        works = [stack.enter_context(staging_dir(paths.finetuned_model_dir(cell_name(role, data), w, s)))
                 for data, w, s in members]
        results = restore_or_train(params, role, members, works, records, threads, processes, device)
        for (data, world, seed), work, (result, seconds) in zip(members, works, stack.enter_context(
                contextlib.closing(results))):
            record_member(params, role, data, world, seed, len(records[data, world]), work, result, seconds,
                          threads)
