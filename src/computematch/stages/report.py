"""Stage `report`: metrics/study.json (every number over worlds, the verdicts), metrics/report.md and the plots.

    computematch report     # writes metrics/study.json, metrics/report.md and metrics/plots/*.png
"""

from __future__ import annotations

from computematch import paths
from computematch.config import ARMS, MODEL_ROLES, Params, cell_name
from computematch.io import read_json, write_json
from computematch.study import StudyMetrics, average_records
from computematch.tracking import stage_run

REPORT = paths.METRICS / "report.md"
STUDY = paths.METRICS / "study.json"
PLOTS = paths.METRICS / "plots"


def study_cells(params: Params) -> list[str]:
    """Every finetuning cell the study runs: the setups on both arms, the controls on their models."""
    study = params.study
    return [cell_name(role, data) for role, data in [(role, arm) for role in MODEL_ROLES for arm in ARMS]
            + [(role, data) for role in study.control_models for data in study.controls]]


def read_study(params: Params) -> StudyMetrics:
    """Every metrics file of the study's worlds: a missing base or data file fails in one line naming it; a
    missing cell member is left out (the report says 'not evaluated')."""
    worlds, seeds, roles = params.study.worlds, params.study.seeds, tuple(params.models)
    optional = lambda path: read_json(path) if path.exists() else None  # noqa: E731
    members = [(cell, w, s) for cell in study_cells(params) for w in worlds for s in seeds]
    metrics = StudyMetrics(
        bases={(role, w): read_json(paths.metrics_file("bootstrap", role, w)) for role in roles for w in worlds},
        data={(arm, w): read_json(paths.metrics_file("data", arm, w)) for arm in ARMS for w in worlds},
        judges={(arm, w): optional(paths.metrics_file("judge", arm, w)) for arm in ARMS for w in worlds},
        evals={**{(role, w, None): read_json(paths.metrics_file("eval", role, w)) for role in roles for w in worlds},
               **{m: optional(paths.metrics_file("eval", *m)) for m in members}},
        finetunes={m: optional(paths.metrics_file("finetune", *m)) for m in members})
    for records in (metrics.judges, metrics.evals, metrics.finetunes):
        for key in [key for key, value in records.items() if value is None]:
            del records[key]
    return metrics


def averaged(records: dict, position: int = 0) -> dict:
    """Records keyed by tuples, averaged over everything but the key's first element (worlds, seeds)."""
    groups: dict = {}
    for key, record in records.items():
        groups.setdefault(key[position], []).append(record)
    return {name: average_records(group) for name, group in groups.items()}


def main(params: Params) -> None:
    from computematch.report import make_plots, render_report
    from computematch.study import study_summary

    metrics = read_study(params)
    data, bases, evals = averaged(metrics.data), averaged(metrics.bases), averaged(metrics.evals)
    environments = {f"{stage}@{'/'.join(map(str, key))}": record.get("environment") for stage, group in
                    (("filter", metrics.data), ("bootstrap", metrics.bases), ("finetune", metrics.finetunes),
                     ("evaluate", metrics.evals)) for key, record in group.items()}
    study = study_summary(metrics, params.study, tuple(params.models), params.budget.param_count)
    with stage_run(params, "report") as tracker:
        write_json(STUDY, study)
        plots = make_plots(data, study, PLOTS)
        REPORT.write_text(render_report(data, evals, bases, [str(p) for p in plots], next(iter(evals.values()))["problems"],
                                        study, averaged(metrics.finetunes), averaged(metrics.judges), environments,
                                        {"sampling": params.sampling.temperature,
                                         "evaluation": params.evaluation.temperature}))
        tracker.log_metrics(headline(study), summary=True)
        for artifact in (STUDY, REPORT, *plots):
            tracker.log_artifact(artifact, artifact_path="plots" if artifact in plots else None)
        print(f"report: {REPORT}, {STUDY} and {len(plots)} plots")


def headline(study: dict) -> dict:
    """The study's headline numbers under one key each: what the parent run shows in the MLflow UI."""
    numbers = {f"gain.{setup}": row["gain"]["mean"] for setup, row in study["setups"].items() if row.get("gain")}
    for key in ("coverage", "diversity", "fpr"):
        for arm, interval in study["data"][key].items():
            if interval:
                numbers[f"{key}.{arm}"] = interval["mean"]
    return numbers
