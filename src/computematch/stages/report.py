"""Stage `report`: metrics/study.json (the verdicts over seeds), metrics/report.md and the plots.

    computematch report     # writes metrics/study.json, metrics/report.md and metrics/plots/*.png
"""

from __future__ import annotations

from computematch import paths
from computematch.config import ARMS, MODEL_ROLES, Params, cell_name
from computematch.io import read_json, write_json
from computematch.tracking import stage_run

REPORT = paths.METRICS / "report.md"
STUDY = paths.METRICS / "study.json"
PLOTS = paths.METRICS / "plots"


def read_metrics(stage: str, names, optional: bool = False) -> dict[str, dict]:
    """metrics/STAGE/NAME.json for each name (those that exist, when optional)."""
    return {name: read_json(paths.metrics_file(stage, name)) for name in names
            if not optional or paths.metrics_file(stage, name).exists()}


def study_cells(params: Params) -> list[str]:
    """Every finetuning cell the study runs: the setups on both arms, the controls on their models, per seed."""
    study = params.study
    main = [(role, arm) for role in MODEL_ROLES for arm in ARMS]
    controls = [(role, data) for role in study.control_models for data in study.controls]
    return [cell_name(role, data, seed) for role, data in main + controls for seed in study.seeds]


def main(params: Params) -> None:
    from computematch.report import make_plots, render_report
    from computematch.study import study_summary

    cells = study_cells(params)
    data, bases = read_metrics("data", ARMS), read_metrics("bootstrap", MODEL_ROLES)
    evals, finetunes = read_metrics("eval", MODEL_ROLES + tuple(cells), True), read_metrics("finetune", cells, True)
    judges = read_metrics("judge", ARMS, optional=True)
    problems = next(iter(evals.values()))["problems"] if evals else 0
    environments = {f"{stage}@{name}": metrics.get("environment") for stage, group in
                    (("filter", data), ("bootstrap", bases), ("finetune", finetunes), ("evaluate", evals))
                    for name, metrics in group.items()}
    study = study_summary(evals, finetunes, params.study)
    with stage_run(params, "report") as tracker:
        write_json(STUDY, study)
        plots = make_plots(data, study, PLOTS)
        REPORT.write_text(render_report(data, evals, bases, [str(p) for p in plots], problems, study, finetunes,
                                        judges, environments, {"sampling": params.sampling.temperature,
                                                               "evaluation": params.evaluation.temperature}))
        for artifact in (STUDY, REPORT, *plots):
            tracker.log_artifact(artifact, artifact_path="plots" if artifact in plots else None)
        print(f"report: {REPORT}, {STUDY} and {len(plots)} plots")
