"""Stage `report`: metrics/study.json (every number over worlds, the verdicts), metrics/report.md and the plots.

    computematch report     # writes metrics/study.json, metrics/report.md and metrics/plots/*.png
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from computematch import paths
from computematch.config import Params
from computematch.measure.codec import to_json
from computematch.measure.records import (AdaptiveRecord, BaseModelRecord, DataRecord, EvalRecord, FinetuneRecord, JudgeRecord,
                                          read_record, write_record)
from computematch.errors import BadInputError
from computematch.measure.study_records import Headline, StudySummary
from computematch.measure.study import StudyMetrics, averaged
from computematch.names import ADAPTIVE, ARMS, MODEL_ROLES, cell_name
from computematch.tracking import experiment_link, stage_run

HEADLINE = paths.METRICS / "headline.json"
REPORT = paths.METRICS / "report.md"
STUDY = paths.METRICS / "study.json"
PLOTS = paths.METRICS / "plots"


def study_cells(params: Params) -> list[str]:
    """Every finetuning cell the study runs: the setups on both arms, the controls on their models."""
    study = params.study
    return [cell_name(role, data) for role, data in [(role, arm) for role in MODEL_ROLES for arm in ARMS]
            + [(role, data) for role in study.control_models for data in study.controls]]


def read_study(params: Params) -> StudyMetrics:
    """Every metrics record of the study's worlds: a missing or unreadable base or data file fails in one line
    naming it; a missing cell member is left out (the report says 'not evaluated')."""
    worlds, seeds, roles = params.study.worlds, params.study.seeds, tuple(params.models)

    def present(stage: str, cls, keys) -> dict:
        return {key: read_record(paths.metrics_file(stage, *key), cls) for key in keys
                if paths.metrics_file(stage, *key).exists()}

    members = [(cell, w, s) for cell in study_cells(params) for w in worlds for s in seeds]
    return StudyMetrics(
        bases={(role, w): read_record(paths.metrics_file("bootstrap", role, w), BaseModelRecord)
               for role in roles for w in worlds},
        data={**{(arm, w): read_record(paths.metrics_file("data", arm, w), DataRecord) for arm in ARMS for w in worlds},
              **present("data", DataRecord, [(ADAPTIVE, w) for w in worlds])},
        judges=present("judge", JudgeRecord, [(arm, w) for arm in ARMS for w in worlds]),
        evals={**{(role, w, None): read_record(paths.metrics_file("eval", role, w), EvalRecord)
                  for role in roles for w in worlds}, **present("eval", EvalRecord, members)},
        finetunes=present("finetune", FinetuneRecord, members),
        allocations={key[1]: record for key, record in present("sample", AdaptiveRecord, [(ADAPTIVE, w) for w in worlds]).items()})


def pool_replication(pool_file: str, study: StudySummary):
    """The study's verdicts against the pool of worlds in `pool_file` (a study.json of the same recipe)."""
    from computematch.measure.replication import replication_summary

    path = Path(pool_file)
    if not path.is_file():
        raise BadInputError(f"study.replication_pool: {pool_file} is not a file (a study.json of many worlds)")
    pool = read_record(path, StudySummary)
    return replication_summary(study, pool, pool_file, hashlib.sha256(path.read_bytes()).hexdigest())


def main(params: Params) -> None:
    from computematch.measure.study import headline, study_summary
    from computematch.render.markdown import ReportInputs, render_report
    from computematch.render.plots import make_plots

    metrics = read_study(params)
    environments = {f"{stage}@{'/'.join(map(str, key))}": record.environment for stage, group in
                    (("filter", metrics.data), ("bootstrap", metrics.bases), ("finetune", metrics.finetunes),
                     ("evaluate", metrics.evals)) for key, record in group.items()}
    study = study_summary(metrics, params.study, tuple(params.models), params.budget.param_count)
    if params.study.replication_pool:
        study = dataclasses.replace(study, replication=pool_replication(params.study.replication_pool, study))
    inputs = ReportInputs(study=study, data=averaged(metrics.data), evals=averaged(metrics.evals),
                          bases=averaged(metrics.bases), finetunes=averaged(metrics.finetunes),
                          judges=averaged(metrics.judges), environments=environments,
                          temperatures={"sampling": params.sampling.temperature,
                                        "evaluation": params.evaluation.temperature})
    with stage_run(params, "report") as tracker:
        write_record(STUDY, study)
        summary = headline(study)
        write_record(HEADLINE, summary)
        plots = make_plots(inputs.data, study, PLOTS)
        REPORT.write_text(render_report(inputs, [str(p) for p in plots]))
        tracker.log_metrics(headline_metrics(summary), summary=True)
        for artifact in (STUDY, REPORT, *plots):
            tracker.log_artifact(artifact, artifact_path="plots" if artifact in plots else None)
        print(f"report: {REPORT}, {HEADLINE}, {STUDY} and {len(plots)} plots")
    link = experiment_link(params.tracking)
    if link:
        print(f"MLflow, the training runs: {link}")


def headline_metrics(summary: Headline) -> dict[str, float]:
    """The headline under one MLflow key per number ('data.coverage.wc', 'gain.SE-LM.mean'): what the parent run of a
    `dvc repro` shows in the MLflow UI, the same keys for every run."""
    def flatten(prefix: str, value) -> dict:
        if isinstance(value, dict):
            return {k: v for key, item in value.items() for k, v in flatten(f"{prefix}.{key}", item).items()}
        return {prefix: value} if isinstance(value, (int, float)) and not isinstance(value, bool) else {}

    return {key: value for name in ("data", "pass_at_1", "gain")
            for key, value in flatten(name, to_json(getattr(summary, name))).items()}
