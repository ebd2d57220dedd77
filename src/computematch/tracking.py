"""MLflow tracking for stages, or a null tracker when `tracking.enabled: false`.

    with stage_run(params, "sample@wc") as tracker:
        tracker.log_params({"budget.se_samples": 3})
        tracker.log_metrics({"coverage": 0.9}, summary=True)

Each model a stage trains, samples from or evaluates is one MLflow run (`finetune@se-wc/world-0/seed-0`), tagged
with its world, model, data source, arm and seed (`computematch.world`, ...: the same five keys on every run that
trains or evaluates a model, `model_tags`) and logging each quantity under one key (`pass_at_1`, never
`se-wc-0.pass_at_1`), so the UI's runs table has one column per quantity and groups by tag. A model's test
metrics (`test_*`) live on its evaluation run only, so averaging runs counts each model once.
Runs nest (tag `mlflow.parentRunId`) under one parent run per pipeline configuration: the parent is found by the
hash of all of params.yaml (and the DVC experiment name when `dvc exp run` sets one), so the stages of one
`dvc repro` or `dvc exp run` group together; the report's headline numbers (`summary=True`) go on the parent,
whose time spans its first stage's start to its last stage's end.
DVC metrics files stay the source of truth; MLflow mirrors them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

from computematch import paths
from computematch.config import Params, TrackingConfig
from computematch.errors import TrackingError
from computematch.names import arm_of

NONE = "none"  # a base model's data source, arm and finetuning seed: it has none
# The MLflow 3 UI opens an experiment on its GenAI overview unless the link asks for the training runs (the landing
# view follows a per-browser switch whatever the experiment's kind tag says).
RUNS_VIEW = "?workflowType=machine_learning"
UI_PORT = 5000  # `mlflow ui`'s default port
GROUP_TAG = "computematch.group"
ROLE_TAG = "computematch.role"
# The MLflow 3 UI opens an experiment without this tag on its GenAI overview ("No data").
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
DEFAULT_STORE = "mlflow.db"  # sqlite file in the repository root (gitignored)
ARTIFACT_DIR = "mlartifacts"
PROBE_TIMEOUT_S = 5.0
# MLflow's HTTP client retries 7 times with exponential backoff and a 120 s timeout: a server that goes away
# mid-stage would stall it for minutes. Bounded here (the environment still overrides).
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def section_params(name: str, section) -> dict:
    """A params section (a config dataclass or a mapping) as flat `name.key` params."""
    values = section if isinstance(section, dict) else vars(section)
    return {f"{name}.{key}": value for key, value in values.items()}


class NullTracker:
    """Stands in when tracking is off: every call does nothing."""

    run_id = None

    def log_params(self, params: dict) -> None: ...

    def log_sections(self, **sections) -> None: ...

    def log_metrics(self, metrics: dict, step: int | None = None, summary: bool = False) -> None: ...

    def log_artifact(self, path, artifact_path: str | None = None) -> None: ...

    def set_tags(self, tags: dict) -> None: ...

    def register_model(self, model_dir, name: str, tags: dict, alias: str | None = None,
                       description: str | None = None) -> dict | None:
        return None

    def annotate(self, registration: dict | None, metrics: dict, tags: dict) -> None: ...


def tracking_uri(config: TrackingConfig, root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI, else tracking.uri, else a sqlite file in the repository root (the repository that
    queued a `dvc exp run --queue` experiment, not its temporary copy: paths.repository)."""
    root = Path(root or paths.repository() or Path.cwd()).resolve()
    return os.environ.get("MLFLOW_TRACKING_URI") or config.uri or f"sqlite:///{root / DEFAULT_STORE}"


def check_reachable(uri: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """An http(s) tracking server must answer /health within `timeout` seconds; a one-line TrackingError if not.

    Checked before the stage does any work, so an unreachable server costs seconds and leaves no output.
    """
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:
            response.read(64)
    except urllib.error.HTTPError:
        return  # it answered: an auth or routing matter for MLflow's client to report
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise TrackingError(f"tracking.uri: the MLflow server at {uri} is unreachable ({reason}); start it, fix "
                            "tracking.uri / MLFLOW_TRACKING_URI, or set tracking.enabled: false") from None


def model_tags(world: int, model: str, data: str | None = None, seed: int | None = None) -> dict:
    """The tags of every run that trains or evaluates a model, the same keys everywhere: a base model has data, arm
    and seed 'none'; a finetuned one its data source, that source's arm (wc-matched -> wc) and study seed."""
    return {"world": world, "model": model, "data": data or NONE, "arm": arm_of(data) if data else NONE,
            "seed": NONE if seed is None else seed}


def data_tags(world: int, data: str) -> dict:
    """The tags of every run that samples, filters or judges a data source: the model it came from and its arm
    (for 'wc-adaptive' both 'wc'), so a data run and the runs trained on that data filter by the same values."""
    return {"world": world, "model": arm_of(data), "data": data, "arm": arm_of(data)}


def experiment_link(config: TrackingConfig, root: Path | None = None) -> str | None:
    """Where a person sees the study's training runs: the experiment's runs view on the tracking server, or, for a
    local store, the `mlflow ui` command and the page it serves. None when tracking is off or nothing was logged."""
    if not config.enabled:
        return None
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(config, root)
    experiment = MlflowClient(uri).get_experiment_by_name(config.experiment)
    if experiment is None:
        return None
    page = f"#/experiments/{experiment.experiment_id}{RUNS_VIEW}"
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/{page}"
    return (f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port {UI_PORT}, then open "
            f"http://127.0.0.1:{UI_PORT}/{page}")


def mlflow_key(name: str) -> str:
    """MLflow names allow no '@': pass@1 is logged as pass_at_1."""
    return name.replace("@", "_at_")


def _numeric(metrics: dict, prefix: str = "") -> dict[str, float]:
    """The numbers in a (nested) metrics dict, flattened to dotted keys; None and text are left out."""
    flat = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            flat.update(_numeric(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[mlflow_key(f"{prefix}{key}")] = float(value)
    return flat


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


class MlflowTracker:
    def __init__(self, client, run_id: str, parent_id: str):
        self.client, self.run_id, self.parent_id = client, run_id, parent_id

    def log_params(self, params: dict) -> None:
        import mlflow

        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})

    def log_sections(self, **sections) -> None:
        """Log params sections by name: `log_sections(sampling=params.sampling, budget=params.budget)`."""
        self.log_params({k: v for name, section in sections.items() for k, v in section_params(name, section).items()})

    def log_metrics(self, metrics: dict, step: int | None = None, summary: bool = False) -> None:
        import mlflow

        numeric = _numeric(metrics)
        mlflow.log_metrics(numeric, step=step)
        if summary:
            for key, value in numeric.items():
                self.client.log_metric(self.parent_id, key, value)

    def log_artifact(self, path, artifact_path: str | None = None) -> None:
        import mlflow

        path = Path(path)
        if path.is_dir():
            mlflow.log_artifacts(str(path), artifact_path=artifact_path or path.name)
        elif path.exists():
            mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def set_tags(self, tags: dict) -> None:
        import mlflow

        mlflow.set_tags(tags)

    def register_model(self, model_dir, name: str, tags: dict, alias: str | None = None,
                       description: str | None = None) -> dict:
        """Log `model_dir` as this run's `model` artifact and register it as a new version of `name`, with
        `description` on the registered model and `alias` (e.g. 'world-0-seed-0') moved onto this version.

        MLflow 3 cannot `register_model` a plainly logged folder (it leaves an empty registered model), so
        the version is created from the artifact URI directly. Load it back with
        `mlflow.artifacts.download_artifacts("models:/<name>@<alias>")` (or `/<version>`), then `from_pretrained`.
        """
        import mlflow
        from mlflow.exceptions import MlflowException

        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        try:
            self.client.create_registered_model(name, description=description)
        except MlflowException as error:
            if "already exists" not in str(error).lower() and "RESOURCE_ALREADY_EXISTS" not in str(error):
                raise
            if description:
                self.client.update_registered_model(name, description=description)
        run = mlflow.get_run(self.run_id)
        provenance = {key: run.data.tags[key] for key in ("computematch.params_hash", "dvc.exp_name", "git.commit")
                      if key in run.data.tags}
        version = self.client.create_model_version(
            name, source=f"{run.info.artifact_uri}/model", run_id=self.run_id,
            tags={**{mlflow_key(k): str(v) for k, v in tags.items()}, **provenance},
            description=f"{alias or name}, trained by run {self.run_id}")
        if alias:  # an alias names one version: this world and seed's newest registration
            self.client.set_registered_model_alias(name, alias, version.version)
        return {"name": name, "version": version.version, "run_id": self.run_id, "alias": alias}

    def annotate(self, registration: dict | None, metrics: dict, tags: dict) -> None:
        """Write a model's evaluation onto its registered version (as version tags) and point the run that trained
        it at this evaluation run (`computematch.evaluated_by`); the metrics themselves stay on this run alone."""
        if not registration:
            return
        for key, value in {**_numeric(metrics), **{mlflow_key(k): v for k, v in tags.items()}}.items():
            self.client.set_model_version_tag(registration["name"], registration["version"], key, str(value))
        self.client.set_tag(registration["run_id"], "computematch.evaluated_by", self.run_id)


def _experiment_id(client, name: str, uri: str, root: Path) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.tags.get("mlflow.experimentKind") is None:  # created by an older version
            for key, value in EXPERIMENT_KIND.items():
                client.set_experiment_tag(experiment.experiment_id, key, value)
        return experiment.experiment_id
    # With a local store, keep artifacts beside it rather than in ./mlruns of whatever directory runs first.
    location = (root / ARTIFACT_DIR).as_uri() if uri.startswith(("sqlite:", "file:")) else None
    return client.create_experiment(name, artifact_location=location, tags=EXPERIMENT_KIND)


def _parent_run(client, experiment_id: str, group: str, name: str) -> str:
    found = client.search_runs(
        [experiment_id], filter_string=f"tags.`{GROUP_TAG}` = '{group}' and tags.`{ROLE_TAG}` = 'pipeline'",
        max_results=1,
    )
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=name, tags={GROUP_TAG: group, ROLE_TAG: "pipeline"})
    client.set_terminated(run.info.run_id)
    return run.info.run_id


@contextlib.contextmanager
def stage_run(params: Params, stage: str, root: Path | None = None,
              tags: dict | None = None) -> Iterator[NullTracker | MlflowTracker]:
    """An MLflow run for one stage execution (or one model of it), nested under its pipeline configuration's
    parent run. `tags`: what the run is about ({"world": 0, "model": "se", "data": "wc", "seed": 0}), set as
    `computematch.<key>` tags so that the UI groups and filters by them."""
    config = params.tracking
    if not config.enabled:
        yield NullTracker()
        return
    root = Path(root or paths.repository() or Path.cwd()).resolve()
    uri = tracking_uri(config, root)
    check_reachable(uri)
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    experiment_id = _experiment_id(client, config.experiment, uri, root)
    experiment_name = os.environ.get("DVC_EXP_NAME")
    group = f"{experiment_name or 'repro'}-{params.fingerprint()}"
    parent_id = _parent_run(client, experiment_id, group, group)
    tags = {GROUP_TAG: group, ROLE_TAG: "stage", "mlflow.parentRunId": parent_id, "computematch.stage": stage,
            "computematch.params_hash": params.fingerprint(),
            **{f"computematch.{key}": str(value) for key, value in (tags or {}).items() if value is not None}}
    commit = _git_commit()
    if commit:
        tags["git.commit"] = commit
    if experiment_name:
        tags["dvc.exp_name"] = experiment_name
    try:
        with mlflow.start_run(experiment_id=experiment_id, run_name=stage, tags=tags) as run:
            yield MlflowTracker(client, run.info.run_id, parent_id)
        client.set_terminated(parent_id, end_time=int(time.time() * 1000))  # the parent spans all its stages
    except MlflowException as error:  # the server went away mid-stage, after MLflow's bounded retries
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise TrackingError(f"tracking.uri: MLflow at {uri} failed during {stage}: {first[:300]}") from None
