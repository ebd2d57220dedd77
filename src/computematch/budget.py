"""Compute-matched budgets: 2·P FLOPs per token, S_WC = ratio · S_SE, and the measured FLOPs ledger.

    from computematch.budget import compute_matched_samples
    compute_matched_samples(se_samples=10, ratio=27e9 / 9e9)  # 30

Bansal et al. (2024), Sec. 3, Eq. 1: at equal cost n·S·W·2P for both models (equal mean solution length W),
S_WC / S_SE = P_SE / P_WC. The ledger below measures W instead of assuming it equal.
"""

from __future__ import annotations

from dataclasses import dataclass

from computematch.errors import ConfigError

from computematch.config import BudgetConfig


def flops_per_token(parameters: int) -> int:
    """Forward FLOPs per token of a decoder-only transformer, 2·P (Kaplan et al. 2020, Sec. 2.1)."""
    return 2 * parameters


def generated_flops(parameters: int, tokens: int) -> float:
    """Sampling cost of `tokens` generated tokens: 2·P per token (Bansal et al., Sec. 3)."""
    return float(flops_per_token(parameters) * tokens)


def card_parameters(card: dict, param_count: str) -> int:
    """P of a model as the budget counts it (budget.param_count: 'non_embedding' or 'total'), from its card."""
    return int(card["parameters"][param_count])


def sampling_ratio(budget: BudgetConfig, wc_parameters: int, se_parameters: int) -> float:
    """How many WC samples one SE sample costs: a fixed `budget.ratio`, else price_SE / price_WC when prices are
    given (the paper matched Gemini-1.5 Flash and Pro on price: ~35 Flash samples per Pro sample), else
    P_SE / P_WC (compute matching, Eq. 1)."""
    if budget.ratio != "auto":
        return float(budget.ratio)
    if budget.priced:
        return budget.price_se / budget.price_wc
    if wc_parameters <= 0 or se_parameters <= 0:
        raise ConfigError(f"budget.ratio: auto needs positive parameter counts, got WC {wc_parameters}, SE {se_parameters}")
    return se_parameters / wc_parameters


def compute_matched_samples(se_samples: int, ratio: float) -> int:
    """S_WC = round(ratio · S_SE), at least 1 (Eq. 1)."""
    return max(1, round(ratio * se_samples))


def samples_per_arm(budget: BudgetConfig, wc_parameters: int, se_parameters: int) -> tuple[dict[str, int], float]:
    """({'wc': S_WC, 'se': S_SE}, ratio): the compute-matched sample counts of both arms."""
    ratio = sampling_ratio(budget, wc_parameters, se_parameters)
    return {"wc": compute_matched_samples(budget.se_samples, ratio), "se": budget.se_samples}, ratio


def matched_level(se_level: int, se_samples: int, wc_samples: int) -> int:
    """The WC budget level (samples per problem) that costs what SE's level `se_level` costs: k · S_WC / S_SE."""
    return max(1, round(se_level * wc_samples / se_samples))


@dataclass(frozen=True)
class ArmPlan:
    """One arm's side of the plan: its P and S, and the FLOPs it is expected to spend."""

    arm: str
    parameters: int
    samples_per_problem: int
    problems: int
    mean_solution_tokens: float  # W: expected from gold solutions, or measured after sampling

    price_per_million_tokens: float | None = None  # dollars per million output tokens, when priced

    @property
    def tokens(self) -> float:
        return self.problems * self.samples_per_problem * self.mean_solution_tokens

    @property
    def flops(self) -> float:
        """n · S · W · 2P (Bansal et al., Sec. 3)."""
        return self.tokens * flops_per_token(self.parameters)

    @property
    def dollars(self) -> float | None:
        """n · S · W · price per output token (the paper's price matching)."""
        return None if self.price_per_million_tokens is None else self.tokens * self.price_per_million_tokens / 1e6


def plan(budget: BudgetConfig, parameters: dict[str, int], problems: int, mean_tokens: dict[str, float]) -> dict[str, ArmPlan]:
    """Both arms' plans; `parameters` and `mean_tokens` are keyed by arm ('wc', 'se')."""
    samples, _ = samples_per_arm(budget, parameters["wc"], parameters["se"])
    prices = {"wc": budget.price_wc, "se": budget.price_se}
    return {
        arm: ArmPlan(arm, parameters[arm], samples[arm], problems, mean_tokens[arm], prices[arm])
        for arm in ("wc", "se")
    }


def training_flops(parameters: int, tokens: int, trainable: int | None = None) -> float:
    """Finetuning cost per trained token: forward 2·P, backward 4·P (Kaplan et al. 2020, Sec. 2.1), 6·P in all.
    The backward's half that forms weight gradients (2·P) is only paid for trainable weights: with LoRA (P the
    frozen model plus its adapters, `trainable` the adapters) 4·P + 2·trainable; full finetuning, 6·P."""
    trainable = parameters if trainable is None else trainable
    return float((4 * parameters + 2 * trainable) * tokens)


def ledger(parameters: dict[str, int], prompt_tokens: int, completion_tokens: int, samples: int) -> dict:
    """Measured sampling cost of one arm, under each parameter count (total, non_embedding).

    `flops` counts generated tokens only, as the paper's cost model does (W = tokens per solution);
    `flops_with_prompt` adds one prompt pass per sample, which is what a sampler without prefix caching
    (the transformers backend) actually computes.
    """
    counts = {name: parameters[name] for name in ("total", "non_embedding")}
    return {
        "samples": samples,
        "completion_tokens": completion_tokens,
        "prompt_tokens": prompt_tokens,
        "mean_completion_tokens": completion_tokens / samples if samples else 0.0,
        "flops": {name: generated_flops(p, completion_tokens) for name, p in counts.items()},
        "flops_with_prompt": {name: generated_flops(p, completion_tokens + prompt_tokens) for name, p in counts.items()},
    }
