"""Stage `finetune`: one model of the paper's Table 1 trained on one arm's filtered data.

    computematch finetune se wc     # SE on WC data (weak-to-strong improvement) -> models/ft/se-wc/

The six (model, data) pairs: student on WC / SE data (distillation from each), WC on WC data
(self-improvement) / SE data (distillation), SE on WC data (weak-to-strong improvement) / SE data
(self-improvement). Same steps and batch size for both data sources; checkpoints at the Trainer's
save_steps; the one with the best greedy accuracy on the validation split is kept and registered in MLflow
as `computematch-<model>-on-<data>`.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

from computematch import paths
from computematch.config import MODEL_ROLES, ConfigError, Params
from computematch.io import read_json, read_jsonl, replace_dir, write_json
from computematch.stages.prepare import read_split
from computematch.stages.sample import check_arm

PARADIGMS = {
    ("student", "wc"): "distillation", ("student", "se"): "distillation",
    ("wc", "wc"): "self-improvement", ("wc", "se"): "distillation",
    ("se", "wc"): "weak-to-strong improvement", ("se", "se"): "self-improvement",
}


def registered_name(role: str, arm: str) -> str:
    return f"computematch-{role}-on-{arm}"


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main(params: Params, role: str, arm: str) -> None:
    from computematch.evaluation import greedy_accuracy, solution_budget
    from computematch.finetune import finetune, select_checkpoint
    from computematch.tasks import get_task
    from computematch.tracking import stage_run

    if role not in MODEL_ROLES:
        raise ConfigError(f"model {role!r}: unknown (known: {', '.join(MODEL_ROLES)})")
    check_arm(arm)
    params.model(role)
    name = f"{role}-{arm}"
    device = params.runtime.apply()
    from computematch.prompting import prompt_renderer

    render = prompt_renderer(params.task, paths.base_model_dir(role))  # the trained model's own template
    records = [{**r, "prompt": render(r["prompt"])} for r in read_jsonl(paths.sft_file(arm))]
    task, val = get_task(params.task), read_split("val")
    data = read_json(paths.metrics_file("data", arm))
    target = paths.finetuned_model_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{name}."))
    with stage_run(params, f"finetune@{name}") as tracker:
        tracker.log_params({"model": role, "data": arm, "paradigm": PARADIGMS[(role, arm)], "examples": len(records),
                            **{f"finetune.{k}": v for k, v in params.finetune.items()}})
        started = time.perf_counter()
        try:
            candidates, history = finetune(paths.base_model_dir(role), records, params.finetune, work / "trainer",
                                           cuda=device == "cuda")
            for entry in history:
                if "loss" in entry:
                    tracker.log_metrics({"train_loss": entry["loss"]}, step=int(entry["step"]))
            best, scores = select_checkpoint(candidates, lambda path: greedy_accuracy(
                path, task, val, max_new_tokens=solution_budget(val), device=device)["accuracy"])
            for checkpoint, score in scores.items():
                tracker.log_metrics({"val_greedy_accuracy": score}, step=int(checkpoint.split("-")[-1]))
            staging = work / "best"
            shutil.copytree(best, staging, ignore=shutil.ignore_patterns("optimizer.pt", "scheduler.pt", "rng_state*",
                                                                          "trainer_state.json", "training_args.bin"))
            card = {"model": role, "data": arm, "paradigm": PARADIGMS[(role, arm)], "base": str(paths.base_model_dir(role)),
                    "dataset": str(paths.sft_file(arm)), "dataset_sha256": file_digest(paths.sft_file(arm)),
                    "examples": len(records), "checkpoint": best.name, "val_greedy_by_checkpoint": scores,
                    "val_greedy_accuracy": scores[best.name], "train_loss": [e for e in history if "loss" in e],
                    "seconds": round(time.perf_counter() - started, 2)}
            write_json(staging / "card.json", card)
            replace_dir(staging, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        tags = {"data_source": arm, "model": role, "paradigm": card["paradigm"], "dataset_sha256": card["dataset_sha256"],
                **{f"data.{k}": data[k] for k in ("coverage", "diversity", "fpr", "samples_per_problem")},
                "val_greedy_accuracy": card["val_greedy_accuracy"]}
        registration = tracker.register_model(target, registered_name(role, arm), tags)
        summary = {"val_greedy_accuracy": card["val_greedy_accuracy"], "checkpoint_step": int(best.name.split("-")[-1]),
                   "examples": len(records), "seconds": card["seconds"],
                   "final_train_loss": card["train_loss"][-1]["loss"] if card["train_loss"] else None}
        tracker.log_metrics({f"{name}.{k}": v for k, v in summary.items()}, summary=True)
        write_json(paths.metrics_file("finetune", name), {**summary, "registered": registration})
        print(f"finetune@{name}: {len(records)} examples, kept {best.name} (val greedy {card['val_greedy_accuracy']:.3f}), "
              f"{card['seconds']:.0f} s")
