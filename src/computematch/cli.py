"""The `computematch` command: one subcommand per DVC stage, plus `budget`.

    computematch budget            # the compute-matched plan: P, S and FLOPs per arm
    computematch sample wc         # what `dvc repro sample@wc` runs: every world of study.worlds
    computematch ci-rerun --base origin/main   # what CI runs on a pull request (pull, repro, push, report)

Subcommands choose *which* item to run (a model role, an arm); every value comes from params.yaml.
Heavy libraries are imported inside the commands, so `--help` is instant.
"""

from __future__ import annotations

import os
import sys

import click

from computematch.names import ADAPTIVE, ARMS, DATA_SOURCES, MODEL_ROLES
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
SAMPLED = click.argument("arm", type=click.Choice((*ARMS, ADAPTIVE)))  # what filter reads: an arm, or the adaptive arm
DATA = click.argument("data", type=click.Choice(DATA_SOURCES))
# A stage holds every world (and a cell's every seed) of the study; these narrow it (`finetune se wc --world 3`).
WORLDS = click.option("--world", "worlds", multiple=True, type=click.IntRange(min=0),
                      help="Only this world (repeatable); default: every world of study.worlds.")
SEEDS = click.option("--seed", "seeds", multiple=True, type=click.IntRange(min=0),
                     help="Only this finetuning seed (repeatable); default: every seed of study.seeds.")


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
@click.argument("roles", nargs=-1, type=click.Choice(MODEL_ROLES))
@WORLDS
@PARAMS_OPTION
def bootstrap(roles: tuple[str, ...], worlds: tuple[int, ...], params_path: str) -> None:
    """Pretrain or resolve the base models of every world (every role of `models`, or the ROLES given) into
    models/base/ROLE/world-W/, side by side on a CPU; models already in the store are restored."""
    from computematch.stages import bootstrap as stage

    stage.main(_params(params_path), worlds, roles)


@cli.command()
@ARM
@WORLDS
@PARAMS_OPTION
def sample(arm: str, worlds: tuple[int, ...], params_path: str) -> None:
    """Draw the compute-matched samples of one arm in every world."""
    from computematch.stages import sample as stage

    stage.main(_params(params_path), arm, worlds)


@cli.command()
@WORLDS
@PARAMS_OPTION
def adaptive(worlds: tuple[int, ...], params_path: str) -> None:
    """Sample the difficulty-aware WC arm of every world (until k right per problem) at the uniform WC arm's FLOPs."""
    from computematch.stages import adaptive as stage

    stage.main(_params(params_path), worlds)


@cli.command(name="filter")
@SAMPLED
@WORLDS
@PARAMS_OPTION
def filter_(arm: str, worlds: tuple[int, ...], params_path: str) -> None:
    """Keep correct samples as SFT data and write the data-quality metrics of one arm in every world."""
    from computematch.stages import filter as stage

    stage.main(_params(params_path), arm, worlds)


@cli.command()
@WORLDS
@PARAMS_OPTION
def judge(worlds: tuple[int, ...], params_path: str) -> None:
    """Have an LLM judge the reasoning of a sample of each arm's kept solutions in every world (judged FPR)."""
    from computematch.stages import judge as stage

    stage.main(_params(params_path), worlds)


@cli.command()
@ROLE
@click.argument("datas", nargs=-1, required=True, type=click.Choice(DATA_SOURCES))
@WORLDS
@SEEDS
@PARAMS_OPTION
def finetune(role: str, datas: tuple[str, ...], worlds: tuple[int, ...], seeds: tuple[int, ...],
             params_path: str) -> None:
    """Finetune model ROLE on each of DATAS in every world and seed of the study, side by side (`finetune se wc se`:
    weak-to-strong and self-improvement; `finetune se wc --world 1`: one cell, world 1 only; a DATA may be a
    control)."""
    from computematch.stages import finetune as stage

    stage.main(_params(params_path), role, datas, worlds, seeds)


@cli.command()
@click.argument("names", nargs=-1, required=True)
@WORLDS
@SEEDS
@PARAMS_OPTION
def evaluate(names: tuple[str, ...], worlds: tuple[int, ...], seeds: tuple[int, ...], params_path: str) -> None:
    """Evaluate base models (`wc`) or finetuning cells (`se-wc`: every world and seed) on the test split:
    `evaluate student wc se` is every world's base models (`--world 0`: world 0's)."""
    from computematch.names import parse_model_name
    from computematch.stages import evaluate as stage

    for name in names:
        parse_model_name(name)  # an unknown name fails here, in one line
    stage.main(_params(params_path), names, worlds, seeds)


@cli.command()
@PARAMS_OPTION
def report(params_path: str) -> None:
    """Write metrics/report.md and the plots."""
    from computematch.stages import report as stage

    stage.main(_params(params_path))


@cli.command()
@PARAMS_OPTION
def mlflow(params_path: str) -> None:
    """Print the link that opens the study's MLflow training runs (and, for a local store, the UI command)."""
    from computematch.tracking import experiment_link

    params = _params(params_path)
    link = experiment_link(params.tracking)
    click.echo(link or f"no MLflow experiment {params.tracking.experiment!r} yet (or tracking.enabled: false)")


@cli.command()
@click.option("--world", default=0, show_default=True, type=click.IntRange(min=0), help="Whose base models.")
@PARAMS_OPTION
def budget(world: int, params_path: str) -> None:
    """Print the compute-matched plan (and the measured FLOPs once sampled) of one world."""
    from computematch.budget_plan import render_plan

    click.echo(render_plan(_params(params_path), world))


BASE = click.option("--base", required=True, help="The revision to compare with, e.g. origin/main.")


@cli.command(name="ci-rerun")
@BASE
@click.option("--report", "report_path", default="ci-report.md", show_default=True, type=click.Path(dir_okay=False),
              help="Where the Markdown report goes.")
@click.option("--allow-missing", is_flag=True, help="Recompute what the remote lacks instead of failing.")
@click.option("--no-push", is_flag=True, help="Leave the remote as it is (a dry rerun).")
@click.option("--commit", is_flag=True, help="Commit the rerun's dvc.lock and metrics to the checked-out branch.")
def ci_rerun(base: str, report_path: str, allow_missing: bool, no_push: bool, commit: bool) -> None:
    """Pull data and run-cache, `dvc repro`, push back, and report the change against BASE (what CI runs)."""
    from pathlib import Path

    from computematch.ci import ci_rerun as rerun

    text = rerun(base, allow_missing=allow_missing, push=not no_push, commit=commit)
    Path(report_path).write_text(text)
    click.echo(f"ci-rerun: report in {report_path}")


@cli.command(name="ci-report")
@BASE
def ci_report(base: str) -> None:
    """Print the Markdown report of the workspace against BASE: params and headline diffs, changed verdicts."""
    from computematch.ci import ci_report as report

    click.echo(report(base))


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
