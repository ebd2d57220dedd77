"""MLflow tracking for stages, or a null tracker when `tracking.enabled: false`.

    with stage_run(params, "sample@wc") as tracker:
        tracker.log_params({"budget.se_samples": 3})
        tracker.log_metrics({"coverage": 0.9}, summary=True)

Each model a stage trains, samples from or evaluates is one MLflow run (`finetune@se-wc/world-0/seed-0`), tagged
with its world, model, data source and seed (`computematch.world`, ...) and logging each quantity under one key
(`pass_at_1`, never `se-wc-0.pass_at_1`), so the UI's runs table has one column per quantity and groups by tag.
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

from computematch.config import Params, TrackingConfig
from computematch.errors import TrackingError

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

    def register_model(self, model_dir, name: str, tags: dict) -> dict | None:
        return None

    def annotate(self, registration: dict | None, metrics: dict, tags: dict) -> None: ...


def tracking_uri(config: TrackingConfig, root: Path | None = None) -> str:
    """MLFLOW_TRACKING_URI, else tracking.uri, else a sqlite file in the repository root."""
    root = Path(root or Path.cwd()).resolve()
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

    def register_model(self, model_dir, name: str, tags: dict) -> dict:
        """Log `model_dir` as this run's `model` artifact and register it as a new version of `name`.

        MLflow 3 cannot `register_model` a plainly logged folder (it leaves an empty registered model), so
        the version is created from the artifact URI directly. Load it back with
        `mlflow.artifacts.download_artifacts("models:/<name>/<version>")`, then `from_pretrained`.
        """
        import mlflow
        from mlflow.exceptions import MlflowException

        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        try:
            self.client.create_registered_model(name)
        except MlflowException as error:
            if "already exists" not in str(error).lower() and "RESOURCE_ALREADY_EXISTS" not in str(error):
                raise
        source = f"{mlflow.get_run(self.run_id).info.artifact_uri}/model"
        version = self.client.create_model_version(name, source=source, run_id=self.run_id,
                                                   tags={mlflow_key(k): str(v) for k, v in tags.items()})
        return {"name": name, "version": version.version, "run_id": self.run_id}

    def annotate(self, registration: dict | None, metrics: dict, tags: dict) -> None:
        """Add evaluation results to a registered version and to the run that trained it."""
        if not registration:
            return
        for key, value in _numeric(metrics).items():
            self.client.log_metric(registration["run_id"], key, value)
            self.client.set_model_version_tag(registration["name"], registration["version"], key, str(value))
        for key, value in tags.items():
            self.client.set_model_version_tag(registration["name"], registration["version"], mlflow_key(key), str(value))


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
    root = Path(root or Path.cwd()).resolve()
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
