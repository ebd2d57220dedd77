"""Stage `bootstrap`: one base model (student, wc or se) as a loadable directory with a card.

    computematch bootstrap wc     # writes models/base/wc/ and metrics/bootstrap/wc.json

A `pretrain` spec trains a tiny Llama from scratch on the task's corpus; a `load` spec resolves a hub id
or local directory and copies it in. Either way the card records total and non-embedding parameter
counts (the budget's P), and the model's greedy accuracy on the validation split.
"""

from __future__ import annotations

import time
from pathlib import Path

from computematch import paths
from computematch.config import Params
from computematch.io import replace_dir, staging_dir, write_json
from computematch.models import (
    PARAM_COUNT_NOTE, build_char_tokenizer, count_parameters, count_parameters_from_config, pretrain,
    resolve_source, weights_digest, write_card,
)
from computematch.stages.prepare import read_split
from computematch.tasks import get_task


def task_tokenizer(task):
    """The built-in character tokenizer over every character the prepared splits and prompts use."""
    texts = []
    for split in ("corpus", "train", "val", "test"):
        problems = read_split(split)
        texts += [task.prompt(p) for p in problems] + [p.solution for p in problems]
    return build_char_tokenizer("".join(texts))


def build_model(params: Params, role: str, staging: Path, on_log=None) -> dict:
    """Write the model and tokenizer of `role` into `staging`; return the card's training facts."""
    spec = params.model(role)
    if spec.pretrain is not None:
        task = get_task(params.task)
        tokenizer = task_tokenizer(task)
        corpus = read_split("corpus")
        model, stats = pretrain(spec.pretrain, tokenizer, [task.prompt(p) for p in corpus],
                                [p.solution for p in corpus], params.pretrain, on_log=on_log,
                                desc=f"pretrain@{role}")
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        return {"source": "pretrain", "architecture": spec.pretrain, "parameters": count_parameters(model),
                "pretrain": stats}
    from transformers import AutoConfig

    # The weights stay where they are (a hub snapshot or the given directory): the card points at them, so a
    # 27B checkpoint is neither copied nor hashed into the DVC cache.
    source = resolve_source(spec).resolve()
    config = AutoConfig.from_pretrained(source, gguf_file=spec.gguf_file)
    return {"source": "load", "load": spec.load, "revision": spec.revision, "weights_dir": str(source),
            "gguf_file": spec.gguf_file, "architecture": config.architectures,
            "parameters": count_parameters_from_config(config)}


def main(params: Params, role: str) -> None:
    from computematch.evaluation import greedy_accuracy, solution_budget
    from computematch.provenance import environment
    from computematch.tracking import stage_run

    params.model(role)  # an unknown role fails here, before any work
    device = params.runtime.apply()
    target = paths.base_model_dir(role)
    with stage_run(params, f"bootstrap@{role}") as tracker:
        tracker.log_params({"role": role, **{f"pretrain.{k}": v for k, v in vars(params.pretrain).items()},
                            f"models.{role}": params.model(role)})
        started = time.perf_counter()
        with staging_dir(target) as staging:
            card = {"role": role, **build_model(params, role, staging, on_log=lambda step, loss: tracker.log_metrics(
                {"pretrain_loss": loss}, step=step))}
            card["parameter_count_note"] = PARAM_COUNT_NOTE
            card["weights_sha256"] = weights_digest(Path(card.get("weights_dir") or staging))
            task, val = get_task(params.task), read_split("val")
            card["val_greedy"] = greedy_accuracy(staging, task, val, max_new_tokens=solution_budget(val),
                                                 device=device, runtime=params.runtime)
            card["seconds"] = round(time.perf_counter() - started, 2)
            card["environment"] = environment(params.runtime.threads)
            write_card(staging, card)
            replace_dir(staging, target)
        summary = {f"{role}.params_total": card["parameters"]["total"],
                   f"{role}.params_non_embedding": card["parameters"]["non_embedding"],
                   f"{role}.val_greedy_accuracy": card["val_greedy"]["accuracy"]}
        write_json(paths.metrics_file("bootstrap", role), {
            "parameters": card["parameters"], "val_greedy_accuracy": card["val_greedy"]["accuracy"],
            "val_greedy_by_difficulty": card["val_greedy"]["by_difficulty"],
            "final_loss": card.get("pretrain", {}).get("final_loss"), "seconds": card["seconds"],
            "environment": card["environment"],
        })
        tracker.log_metrics(summary, summary=True)
        tracker.log_artifact(target / "card.json")
        print(f"{role}: {card['parameters']['total']:,} parameters, val greedy accuracy "
              f"{card['val_greedy']['accuracy']:.3f}, {card['seconds']:.0f} s")
