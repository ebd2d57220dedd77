"""Stage `report`: metrics/report.md and the plots, from every stage's metrics.

    computematch report     # writes metrics/report.md and metrics/plots/*.png
"""

from __future__ import annotations

from computematch import paths
from computematch.config import ARMS, EVALUATED, FINETUNED, MODEL_ROLES, Params
from computematch.io import read_json
from computematch.tracking import stage_run

REPORT = paths.METRICS / "report.md"
PLOTS = paths.METRICS / "plots"


def read_metrics(stage: str, names, optional: bool = False) -> dict[str, dict]:
    """metrics/STAGE/NAME.json for each name (those that exist, when optional)."""
    return {name: read_json(paths.metrics_file(stage, name)) for name in names
            if not optional or paths.metrics_file(stage, name).exists()}


def main(params: Params) -> None:
    from computematch.report import make_plots, render_report

    data, bases = read_metrics("data", ARMS), read_metrics("bootstrap", MODEL_ROLES)
    evals, finetunes = read_metrics("eval", EVALUATED, optional=True), read_metrics("finetune", FINETUNED, optional=True)
    judges = read_metrics("judge", ARMS, optional=True)
    problems = next(iter(evals.values()))["problems"] if evals else 0
    environments = {f"{stage}@{name}": metrics.get("environment") for stage, group in
                    (("filter", data), ("bootstrap", bases), ("finetune", finetunes), ("evaluate", evals))
                    for name, metrics in group.items()}
    with stage_run(params, "report") as tracker:
        plots = make_plots(data, evals, PLOTS)
        REPORT.write_text(render_report(data, evals, bases, [str(p) for p in plots], problems, finetunes, judges,
                                        environments))
        tracker.log_artifact(REPORT)
        for plot in plots:
            tracker.log_artifact(plot, artifact_path="plots")
        print(f"report: {REPORT} with {len(plots)} plots")
