"""`computematch budget`: the compute-matched plan before sampling, and the measured ledger after it.

    print(render_plan(load_params("params.yaml"), world=0))

Not a DVC stage: it reads whatever exists (cards, splits, sample metrics) and renders budget.py's numbers.
"""

from __future__ import annotations

from statistics import mean

from computematch import paths
from computematch.budget import plan, sampling_ratio
from computematch.names import ARMS
from computematch.errors import ConfigError
from computematch.config import Params
from computematch.models import count_parameters_from_config, llama_config, load_card


def planned_parameters(params: Params, role: str, world: int) -> dict[str, int]:
    """Parameter counts from the card when the model exists, else from its architecture (no weights)."""
    model_dir = paths.base_model_dir(role, world)
    if (model_dir / "card.json").exists():
        return load_card(model_dir)["parameters"]
    spec = params.model(role)
    if spec.pretrain is not None:
        from computematch.models import task_tokenizer
        from computematch.splits import load_task, read_split

        if not paths.split_file("corpus").exists():
            raise ConfigError(f"models.{role}: run `dvc repro prepare` first (the vocabulary comes from the data)")
        splits = {split: read_split(split) for split in ("corpus", "train", "val", "test")}
        tokenizer = task_tokenizer(load_task(params.task), splits)
        return count_parameters_from_config(llama_config(spec.pretrain, tokenizer, f"models.{role}.pretrain"))
    from transformers import AutoConfig

    from computematch.models import resolve_source

    return count_parameters_from_config(AutoConfig.from_pretrained(resolve_source(spec)))


def gold_solution_tokens(role: str, world: int) -> float | None:
    """W assumed by the paper: the mean length of a gold solution (+ EOS) in the model's tokens."""
    from computematch.splits import read_split

    if not paths.split_file("train").exists():
        return None
    solutions = [p.solution for p in read_split("train")]
    model_dir = paths.base_model_dir(role, world)
    if (model_dir / "tokenizer.json").exists() or (model_dir / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        return mean(len(ids) + 1 for ids in tokenizer(solutions, add_special_tokens=False)["input_ids"])
    return mean(len(s) + 1 for s in solutions)  # no tokenizer yet (bootstrap not run): characters, an upper bound


def render_plan(params: Params, world: int = 0) -> str:
    """The plan of one world (the worlds differ only in their base models' parameters where those differ)."""
    from computematch.measure.records import SampleRecord, read_record

    counts = {role: planned_parameters(params, role, world) for role in ARMS}
    chosen = {role: counts[role][params.budget.param_count] for role in counts}
    widths = {role: gold_solution_tokens(role, world) or 0.0 for role in counts}
    problems = params.task.train_size
    arms = plan(params.budget, chosen, problems, widths)
    budget = params.budget
    matched = (f"price: ${budget.price_se:g} / ${budget.price_wc:g} per million output tokens" if budget.priced
               else "compute: P_SE / P_WC")
    lines = [f"P counted as: {budget.param_count} parameters (budget.param_count)",
             f"ratio: {sampling_ratio(budget, chosen['wc'], chosen['se']):.3f}   (budget.ratio: {budget.ratio}; "
             f"auto matches on {matched})",
             f"{'arm':<4} {'P':>14} {'S':>4} {'problems':>9} {'W (gold)':>9} {'expected FLOPs':>15} "
             f"{'expected $':>11} {'measured FLOPs':>15}"]
    for role, arm in arms.items():
        measured_path = paths.metrics_file("sample", role, world)
        measured = f"{read_record(measured_path, SampleRecord).flops[budget.param_count]:.3e}" if measured_path.exists() else "-"
        dollars = "-" if arm.dollars is None else f"{arm.dollars:.4f}"
        lines.append(f"{role:<4} {arm.parameters:>14,} {arm.samples_per_problem:>4} {problems:>9} "
                     f"{arm.mean_solution_tokens:>9.1f} {arm.flops:>15.3e} {dollars:>11} {measured:>15}")
    return "\n".join(lines)
