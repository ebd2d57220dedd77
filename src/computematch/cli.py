"""The `computematch` command: one subcommand per DVC stage, plus `budget`.

    computematch budget            # the compute-matched plan: P, S and FLOPs per arm
    computematch sample wc         # what `dvc repro sample@wc` runs

Subcommands choose *which* item to run (a model role, an arm); every value comes from params.yaml.
Heavy libraries are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import os
import sys

import click

from computematch.config import ARMS, DATA_SOURCES, MODEL_ROLES
from computematch.errors import UserError

# Before torch is first imported: idle OpenMP threads sleep instead of spinning (on a busy 2-core machine
# spinning threads made tiny matmuls several times slower; see docs/stack.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # each stage would print two links

PARAMS_OPTION = click.option("--params", "params_path", default="params.yaml", show_default=True,
                             type=click.Path(dir_okay=False), help="The parameters file.")
# Names are checked here, once: a stage is never called with an unknown role, arm or model.
ROLE = click.argument("role", type=click.Choice(MODEL_ROLES))
ARM = click.argument("arm", type=click.Choice(ARMS))
DATA = click.argument("data", type=click.Choice(DATA_SOURCES))
SEEDS = click.argument("seeds", nargs=-1, type=click.IntRange(min=0))


def _params(path: str):
    """params.yaml, validated whole: a misspelled key of any section fails every stage, not just its own."""
    from computematch.config import load_params
    from computematch.library_fields import check_passthrough_fields

    params = load_params(path)
    check_passthrough_fields(params)
    return params


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Compute-matched sampling for training LLM reasoners (Bansal et al., 2024)."""


@cli.command()
@PARAMS_OPTION
def prepare(params_path: str) -> None:
    """Write the task's splits to data/prepare/."""
    from computematch.stages import prepare as stage

    stage.main(_params(params_path))


@cli.command()
@ROLE
@PARAMS_OPTION
def bootstrap(role: str, params_path: str) -> None:
    """Pretrain or resolve one base model into models/base/ROLE/."""
    from computematch.stages import bootstrap as stage

    stage.main(_params(params_path), role)


@cli.command()
@ARM
@PARAMS_OPTION
def sample(arm: str, params_path: str) -> None:
    """Draw the compute-matched samples of one arm."""
    from computematch.stages import sample as stage

    stage.main(_params(params_path), arm)


@cli.command(name="filter")
@ARM
@PARAMS_OPTION
def filter_(arm: str, params_path: str) -> None:
    """Keep correct samples as SFT data and write the data-quality metrics."""
    from computematch.stages import filter as stage

    stage.main(_params(params_path), arm)


@cli.command()
@ARM
@PARAMS_OPTION
def judge(arm: str, params_path: str) -> None:
    """Have an LLM judge the reasoning of a sample of ARM's kept solutions (judged FPR)."""
    from computematch.stages import judge as stage

    stage.main(_params(params_path), arm)


@cli.command()
@ROLE
@DATA
@SEEDS
@PARAMS_OPTION
def finetune(role: str, data: str, seeds: tuple[int, ...], params_path: str) -> None:
    """Finetune model ROLE on DATA once per seed: every seed of study.seeds, or the SEEDS given
    (`finetune se wc`: weak-to-strong; `finetune se wc 1`: seed 1 only; DATA may be a control)."""
    from computematch.stages import finetune as stage

    stage.main(_params(params_path), role, data, seeds)


@cli.command()
@click.argument("name")
@PARAMS_OPTION
def evaluate(name: str, params_path: str) -> None:
    """Evaluate a base (`wc`) or finetuned model on the test split: `se-wc-0` (ROLE-DATA-SEED) is one seed,
    `se-wc` every seed of study.seeds."""
    from computematch.config import parse_model_name
    from computematch.stages import evaluate as stage

    parse_model_name(name)  # an unknown name fails here, in one line
    stage.main(_params(params_path), name)


@cli.command()
@PARAMS_OPTION
def report(params_path: str) -> None:
    """Write metrics/report.md and the plots."""
    from computematch.stages import report as stage

    stage.main(_params(params_path))


@cli.command()
@PARAMS_OPTION
def budget(params_path: str) -> None:
    """Print the compute-matched plan (and the measured FLOPs once sampled)."""
    from computematch.plan import render_plan

    click.echo(render_plan(_params(params_path)))


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except UserError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
