"""The study's names, one place for each: model roles, sampling arms, the paper's setups, data sources, controls,
and how cells, worlds and members are named (folders, metrics files, MLflow runs, DVC stages).

    from computematch.names import ARMS, cell_name
    cell_name("se", "wc")   # 'se-wc': SE finetuned on WC data
"""

from __future__ import annotations

from computematch.errors import ConfigError

MODEL_ROLES = ("student", "wc", "se")  # the paper's three models: student, weaker-cheaper, stronger-expensive
ARMS = ("wc", "se")  # the two sampling arms (and data sources)
# The paper's Table 1: (setup, trained model, paradigm on WC data, paradigm on SE data).
SETUPS = (
    ("Student-LM", "student", "distillation", "distillation"),
    ("WC-LM", "wc", "self-improvement", "distillation"),
    ("SE-LM", "se", "weak-to-strong improvement", "self-improvement"),
)
PARADIGMS = {(role, arm): paradigm for _, role, *paradigms in SETUPS for arm, paradigm in zip(ARMS, paradigms)}
# What `filter` writes for each arm, besides its full data: `-verified` keeps only solutions whose every step the
# task's checker verifies (no false positives), `-matched` the first S_SE samples per problem (WC at SE's sample
# count: the paper's equal-count ablation), `-low` the paper's low budget (SE's first sample and the WC level
# that costs the same).
VARIANTS = ("verified", "matched", "low")
# Beyond the paper: WC samples allocated by difficulty (sample each problem until k correct, DART-Math) at the
# uniform WC arm's measured FLOPs, drawn from the same per-sample streams (stage adaptive, adaptive.py).
ADAPTIVE = "wc-adaptive"
DATA_SOURCES = ARMS + tuple(f"{arm}-{variant}" for arm in ARMS for variant in VARIANTS) + (ADAPTIVE,)
# The controls, each a pair (data source trained on as "WC", as "SE") compared like the main setups, and the
# sign of the gain the paper reports (+1: WC data better, -1: SE data better, 0: no claim).
CONTROLS = {
    "sample-matched": ("wc-matched", "se", -1),  # equal sample counts: SE data won in the paper
    "verified-only": ("wc-verified", "se-verified", 0),  # no false positives: the paper could not run this
    "low-budget": ("wc-low", "se-low", +1),  # the paper's low budget (S_SE 1)
    "adaptive": (ADAPTIVE, "wc", 0),  # adaptive vs uniform WC data at the same FLOPs: beyond the paper, no claim
}
# What a verdict without a claim calls each side, where the pair is not WC vs SE data.
CONTROL_SIDES = {"adaptive": ("adaptive WC data better", "uniform WC data better")}


ROLE_TITLES = {"student": "the student", "wc": "WC (the weaker-cheaper model)", "se": "SE (the stronger-expensive model)"}
VARIANT_TITLES = {"": "all compute-matched samples with a right final answer",
                  "verified": "only the solutions whose every step checks (no false positives)",
                  "matched": "its first S_SE samples per problem (SE's sample count)",
                  "low": "the paper's low budget", "adaptive": "samples allocated by difficulty at the same FLOPs"}


def describe_cell(role: str, data: str) -> str:
    """One line on what a finetuning cell is: 'SE (the stronger-expensive model) finetuned on WC data: all
    compute-matched samples with a right final answer'. The registered model's description."""
    arm, _, variant = data.partition("-")
    return f"{ROLE_TITLES[role]} finetuned on {arm.upper()} data: {VARIANT_TITLES[variant]}"


def arm_of(data_source: str) -> str:
    """The model a data source was sampled from: 'wc-verified' -> 'wc', 'wc-adaptive' -> 'wc'."""
    return data_source.split("-")[0]


def cell_name(role: str, data: str) -> str:
    """A finetuning cell: model ROLE trained on DATA ('se-wc'); the DVC stage finetune@se trains it (with se-se),
    evaluate@se evaluates it."""
    return f"{role}-{data}"


def world_seed(seed: int, world: int) -> int:
    """The seed a world draws with: every seed of the study (pretraining, sampling, finetuning, evaluation, judge)
    shifted by the world's number, so world 0 is the single draw the study made before worlds, and world w's base
    models are those of pretraining seed w (README, calibration table)."""
    return seed + world


def world_name(world: int) -> str:
    return f"world-{world}"


def member_name(cell: str, world: int, seed: int) -> str:
    """One trained model of a cell: its folder below models/ft/, metrics file and MLflow run ('se-wc/world-0/seed-0')."""
    return f"{cell}/{world_name(world)}/seed-{seed}"


def parse_model_name(name: str) -> tuple[str, str | None]:
    """(role, data) of an evaluated model: a base role ('wc': data None) or a finetuning cell ('se-wc-verified')."""
    if name in MODEL_ROLES:
        return name, None
    role, _, data = name.partition("-")
    if role not in MODEL_ROLES or data not in DATA_SOURCES:
        raise ConfigError(f"model {name!r}: not a base model ({', '.join(MODEL_ROLES)}) nor a finetuning cell "
                          f"ROLE-DATA with DATA one of {', '.join(DATA_SOURCES)}")
    return role, data


def check_name(kind: str, name: str, known: tuple[str, ...]) -> str:
    """A model role, arm or evaluated model named on the command line; an unknown one is a one-line error."""
    if name not in known:
        raise ConfigError(f"{kind} {name!r}: unknown (known: {', '.join(known)})")
    return name
