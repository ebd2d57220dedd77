"""Stage `report`: metrics/report.md and the plots, from every stage's metrics.

    computematch report     # writes metrics/report.md and metrics/plots/*.png
"""

from __future__ import annotations

from computematch import paths
from computematch.config import MODEL_ROLES, Params
from computematch.io import read_json
from computematch.stages.evaluate import EVALUATED

REPORT = paths.METRICS / "report.md"
PLOTS = paths.METRICS / "plots"


def main(params: Params) -> None:
    from computematch.report import make_plots, render_report
    from computematch.tracking import stage_run

    data = {arm: read_json(paths.metrics_file("data", arm)) for arm in ("wc", "se")}
    evals = {name: read_json(paths.metrics_file("eval", name)) for name in EVALUATED
             if paths.metrics_file("eval", name).exists()}
    bases = {role: read_json(paths.metrics_file("bootstrap", role)) for role in MODEL_ROLES}
    finetunes = {name: read_json(paths.metrics_file("finetune", name)) for name in EVALUATED
                 if paths.metrics_file("finetune", name).exists()}
    judges = {arm: read_json(paths.metrics_file("judge", arm)) for arm in ("wc", "se")
              if paths.metrics_file("judge", arm).exists()}
    problems = next(iter(evals.values()))["problems"] if evals else 0
    with stage_run(params, "report") as tracker:
        plots = make_plots(data, evals, PLOTS)
        environments = {f"{stage}@{name}": metrics.get("environment") for stage, group in
                        (("filter", data), ("bootstrap", bases), ("finetune", finetunes), ("evaluate", evals))
                        for name, metrics in group.items()}
        REPORT.write_text(render_report(data, evals, bases, [str(p) for p in plots], problems, finetunes, judges,
                                        environments))
        tracker.log_artifact(REPORT)
        for plot in plots:
            tracker.log_artifact(plot, artifact_path="plots")
        print(f"report: {REPORT} with {len(plots)} plots")
