"""Micro end-to-end: the real DVC pipeline on a tiny config in a temporary copy of the repository, tracked on a
real `mlflow server` (loopback, SQL backend, proxied artifacts), pushed to a DVC remote and pulled into a clone."""

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from computematch import paths

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

TINY_PARAMS = {
    "task": {"name": "arith", "seed": 0, "train_size": 16, "val_size": 6, "test_size": 6, "levels": [2, 3],
             "corpus_size": 300, "corpus_weights": [1, 1], "grading": "strict", "decontamination_ngram": 8,
             # The single-digit world: 16-wide models learn it well enough in 150 steps to leave SFT data in
             # both arms, so that a changed budget changes the WC data (and reruns what reads it).
             "max_value": 9, "operators": "+-*", "identity_steps": True},
    "models": {
        # a target no model reaches: the student trains every step, scored at each check (the stop rule's wiring)
        "student": {"pretrain": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16},
                    "stop_at_accuracy": 1.0},
        "wc": {"pretrain": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16}},
        "se": {"pretrain": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64}},
    },
    # greedy stop checks (check_temperature 0): the student's last check is then its greedy validation accuracy
    "pretrain": {"steps": 150, "batch_size": 16, "learning_rate": 0.01, "warmup_steps": 2, "seed": 0,
                 "check_temperature": 0.0},
    "budget": {"se_samples": 2, "ratio": "auto", "param_count": "non_embedding"},
    "sampling": {"backend": "transformers", "temperature": 0.7, "top_p": 1.0, "max_new_tokens": 24,
                 "batch_size": 64, "seed": 0},
    "filter": {"dedup": True},
    "adaptive": {"k": 4, "cap": 32},  # the tiny WC is right ~7% of the time: the budget binds, as in the default
    "study": {"worlds": [0, 1], "seeds": [0], "controls": ["wc-matched"], "control_models": ["student"]},
    "finetune": {"max_steps": 4, "per_device_train_batch_size": 8, "learning_rate": 0.003, "save_steps": 2,
                 "logging_steps": 1, "seed": 0},
    "evaluation": {"samples": 2, "temperature": 0.7, "top_p": 1.0, "maj_k": [2], "max_new_tokens": 24,
                   "batch_size": 64, "seed": 0, "backend": "transformers"},
    "judge": {"enabled": False},
    "runtime": {"threads": 1, "device": "cpu"},
    "ray": {"workers": 1, "address": None, "temp_dir": None},
    "tracking": {"enabled": True, "uri": None, "experiment": "computematch-test"},
}


def _run(args, cwd, env):
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the server at {url} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in {seconds} s")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with a sqlite backend and proxied artifacts, as the README starts it."""
    home, port = tmp_path_factory.mktemp("mlflow-server"), _free_port()
    log = (home / "server.log").open("w")  # a file, not a pipe: a full pipe would block the server
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
         "--artifacts-destination", str(home / "artifacts")],
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}, stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{uri}/health", server)
        yield uri
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, mlflow_server):
    root = tmp_path_factory.mktemp("study")
    for name in ("dvc.yaml", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    for folder in ("src", "prompts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    (root / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS, sort_keys=False))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DVC_SITE_CACHE_DIR": str(root / ".dvc-site"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
    env["MLFLOW_TRACKING_URI"] = mlflow_server
    _run(["git", "init", "-q"], root, env)
    _run(["dvc", "init", "-q"], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "tiny study"], root, env)
    log = _run(["dvc", "repro"], root, env)
    return root, env, log


def _metrics(root, stage, name, world=0, seed=None):
    return json.loads((root / paths.metrics_file(stage, name, world, seed)).read_text())


def test_repro_runs_every_stage_and_writes_the_data_metrics(workspace):
    root, _, log = workspace
    for stage in ["prepare", "bootstrap", "sample@wc", "sample@se", "filter@wc", "filter@se", "judge", "finetune@se",
                  "control@student-wc-matched", "evaluate@student", "evaluate-control@student-wc-matched",
                  "evaluate-base", "adaptive", "filter-adaptive", "report"]:
        assert f"'{stage}'" in log
    adaptive = _metrics(root, "sample", "wc-adaptive")  # the adaptive arm spends the uniform WC arm's FLOPs
    assert abs(adaptive["flops_ratio"] - 1) <= 0.02 and adaptive["reused"] > 0
    assert adaptive["flops"] == pytest.approx(_metrics(root, "data", "wc-adaptive")["flops"])
    for arm in ("wc", "se"):
        data = _metrics(root, "data", arm)
        assert {"coverage", "diversity", "fpr", "flops", "samples_per_problem", "by_budget", "by_difficulty"} <= set(data)
        assert list(data["by_budget"]) == [str(k) for k in range(1, data["samples_per_problem"] + 1)]
        assert set(data["by_difficulty"]) == {"2", "3"}
        kept = (root / paths.sft_file(arm, 0)).read_text().splitlines()
        assert len(kept) == data["kept"]
        assert all(set(json.loads(line)) >= {"prompt", "completion"} for line in kept)
        assert data["decontamination"] == {"ngram": 8, "dropped": {"train": 0, "val": 0, "corpus": 0}}
        assert data["kept"] + data["duplicates_dropped"] == data["correct_samples"]
        assert data["environment"]["math-verify"] and "torch" not in data["environment"]  # grading needs no torch
        assert data["grading"]["mode"] == "strict"
    se_card = json.loads((root / "models/base/se/world-0/card.json").read_text())
    assert se_card["environment"]["threads"] == 1 and se_card["environment"]["transformers"]
    wc_card = json.loads((root / "models/base/wc/world-0/card.json").read_text())
    student = json.loads((root / "models/base/student/world-0/card.json").read_text())["pretrain"]
    assert student["steps"] == 150 and [step for step, _ in student["val_checks"]] == [25, 50, 75, 100, 125, 150]
    assert student["val_checks"][-1][1] == _metrics(root, "bootstrap", "student")["val_greedy_accuracy"]
    assert "val_checks" in wc_card["pretrain"] and wc_card["pretrain"]["val_checks"] == []
    ratio = se_card["parameters"]["non_embedding"] / wc_card["parameters"]["non_embedding"]
    assert _metrics(root, "data", "wc")["samples_per_problem"] == round(ratio * 2)
    assert _metrics(root, "data", "se")["samples_per_problem"] == 2
    # Worlds are independent draws: world 1 pretrained with seed 1, so its base models differ from world 0's.
    world_1 = json.loads((root / "models/base/se/world-1/card.json").read_text())
    assert (se_card["pretrain"]["seed"], world_1["pretrain"]["seed"]) == (0, 1)
    assert world_1["weights_sha256"] != se_card["weights_sha256"]


def test_base_models_load_with_from_pretrained(workspace):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, _, _ = workspace
    model = AutoModelForCausalLM.from_pretrained(root / "models/base/wc/world-0")
    tokenizer = AutoTokenizer.from_pretrained(root / "models/base/wc/world-0")
    assert model.config.hidden_size == 16 and tokenizer.eos_token == "<eos>"


def test_worlds_trained_side_by_side_equal_a_world_trained_alone(workspace, tmp_path):
    """The pipeline ran each cell's two worlds in two worker processes of one thread (runtime.worker_processes
    auto); world 1 of a cell retrained and re-evaluated alone, in the stage's own process and on two threads,
    comes out the same."""
    root, env, _ = workspace
    copy = tmp_path / "alone"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".dvc", ".git", "mlruns", "mlartifacts"))
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["tracking"]["enabled"], params["runtime"]["threads"] = False, 2
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.rmtree(copy / "models/ft/wc-se/world-1")
    shutil.rmtree(copy / "data/resume")
    _run(["computematch", "finetune", "wc", "se", "--world", "1"], copy, env)
    _run(["computematch", "evaluate", "wc-se", "--world", "1"], copy, env)
    weights = "models/ft/wc-se/world-1/seed-0/model.safetensors"
    assert (copy / weights).read_bytes() == (root / weights).read_bytes()
    alone, together = _metrics(copy, "eval", "wc-se", 1, 0), _metrics(root, "eval", "wc-se", 1, 0)
    assert {k: alone[k] for k in ("pass@1", "greedy", "by_difficulty")} == \
        {k: together[k] for k in ("pass@1", "greedy", "by_difficulty")}
    assert together["environment"]["threads"] == 1
    assert _metrics(root, "finetune", "wc-se", 1, 0)["environment"]["threads"] == 1


def test_a_worlds_base_models_do_not_depend_on_the_worlds_trained_beside_them(workspace, tmp_path):
    """The pipeline pretrained both worlds' six base models one after another in one worker (runtime.threads 1);
    world 1's three pretrained alone, in two one-thread workers side by side and with no store to restore from,
    come out with the same bits (issue 28's invariant: a world is the same draw whichever other worlds a study
    holds, and wherever its models train)."""
    root, env, _ = workspace
    copy = tmp_path / "alone"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".dvc", ".git", "mlruns", "mlartifacts"))
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["tracking"]["enabled"], params["runtime"]["threads"] = False, 2  # two workers of one thread each
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.rmtree(copy / "models/base")
    shutil.rmtree(copy / "data/resume")
    log = _run(["computematch", "bootstrap", "--world", "1"], copy, env)
    assert "restored from" not in log and "world-0" not in log
    for role in ("student", "wc", "se"):
        weights = f"models/base/{role}/world-1/model.safetensors"
        assert (copy / weights).read_bytes() == (root / weights).read_bytes(), role
        card = json.loads((copy / f"models/base/{role}/world-1/card.json").read_text())
        assert card["environment"]["threads"] == 1


def test_the_mlflow_server_groups_the_runs_and_serves_the_registered_models(workspace, mlflow_server, tmp_path):
    import mlflow
    from mlflow.tracking import MlflowClient
    from transformers import AutoModelForCausalLM

    root, _, _ = workspace
    assert not (root / "mlflow.db").exists()  # everything went to the server
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("computematch-test")
    runs = client.search_runs([experiment.experiment_id])
    stages = [r for r in runs if r.data.tags.get("computematch.role") == "stage"]
    parents = [r for r in runs if r.data.tags.get("computematch.role") == "pipeline"]
    members = (6 + 1) * 2  # the six setups' cells and the control's, in two worlds
    per_world = 3 + 2 + 2 + 3 + 2  # bootstrap, sample, filter (the judge is off), evaluate-base, and the adaptive
    # arm's sampling and filtering runs
    assert len(stages) == 1 + 2 * per_world + members + members + 1 and len(parents) == 1
    assert {r.data.tags["mlflow.parentRunId"] for r in stages} == {parents[0].info.run_id}
    # One key per quantity across runs, the study's headline on the parent, and tags to group by
    assert "data.coverage.wc" in parents[0].data.metrics and "gain.SE-LM.mean" in parents[0].data.metrics
    assert parents[0].info.end_time - parents[0].info.start_time > 10_000  # it spans the stages, not 7 ms
    evaluated = [r for r in stages if r.data.tags["computematch.stage"].startswith(("evaluate@", "evaluate-base@"))]
    scores = {"test_pass_at_1", "test_greedy", "test_maj_at_2"}
    assert {key for r in evaluated for key in r.data.metrics} == scores
    # the test scores on the evaluation runs alone; the same five tags on every run that trains or evaluates a model
    assert not any(scores & set(r.data.metrics) for r in stages if r not in evaluated)
    models = [r for r in stages if r.data.tags["computematch.stage"].split("@")[0]
              in ("bootstrap", "finetune", "evaluate", "evaluate-base")]
    assert all({f"computematch.{k}" for k in ("world", "model", "data", "arm", "seed")} <= set(r.data.tags) for r in models)
    assert {(r.data.tags["computematch.data"], r.data.tags["computematch.arm"]) for r in models
            if r.data.tags["computematch.model"] == "student"} == {("none", "none"), ("wc", "wc"), ("se", "se"),
                                                                  ("wc-matched", "wc")}
    assert {(r.data.tags["computematch.world"], r.data.tags["computematch.data"]) for r in evaluated
            if r.data.tags["computematch.model"] == "se"} == {(w, d) for w in "01" for d in ("wc", "se", "none")}
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    registered = {m.name for m in client.search_registered_models()}
    assert registered == {f"computematch-{m}-on-{d}" for m in ("student", "wc", "se") for d in ("wc", "se")} | {
        "computematch-student-on-wc-matched"}
    assert {v.tags["world"] for v in client.search_model_versions("name='computematch-se-on-wc'")} == {"0", "1"}
    version = client.get_model_version_by_alias("computematch-se-on-wc", "world-1-seed-0")
    assert version.tags["data_source"] == "wc" and version.tags["world"] == "1" and "test_pass_at_1" in version.tags
    assert client.get_registered_model("computematch-se-on-wc").description.startswith("SE (the stronger-expensive")
    assert version.source.startswith("mlflow-artifacts:/")  # proxied: the client never touched the server's disk
    mlflow.set_tracking_uri(mlflow_server)
    downloaded = mlflow.artifacts.download_artifacts("models:/computematch-se-on-wc/1", dst_path=str(tmp_path))
    assert AutoModelForCausalLM.from_pretrained(downloaded).config.hidden_size == 32


def _moto_server() -> str | None:
    """An S3-compatible server from PyPI (moto), in CI's own virtualenv or on PATH."""
    candidates = [os.environ.get("COMPUTEMATCH_MOTO_SERVER"), str(REPO / ".venv-moto" / "bin" / "moto_server"),
                  shutil.which("moto_server")]
    return next((c for c in candidates if c and Path(c).exists()), None)


@pytest.fixture()
def remote(request, tmp_path):
    """A DVC remote: a local directory, or a bucket on a moto S3 server started on 127.0.0.1 for the test."""
    if request.param == "local":
        yield str(tmp_path / "remote"), {}, {}
        return
    if importlib.util.find_spec("dvc_s3") is None:
        pytest.skip("an S3 remote needs the s3 extra (pip install 'computematch[s3]')")
    if _moto_server() is None:
        pytest.skip("no S3-compatible server: pip install 'moto[server]' in its own virtualenv (.venv-moto)")
    port = _free_port()
    server = subprocess.Popen([_moto_server(), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{endpoint}/moto-api/", server)
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/study", method="PUT"))  # push creates no bucket
        credentials = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        yield "s3://study/cache", {"endpointurl": endpoint}, credentials
    finally:
        server.terminate()
        server.wait(timeout=30)


def _commit_remote(root, env, remote) -> dict:
    """The study's results committed with `remote` as its default DVC remote, and pushed there with the run-cache."""
    url, settings, credentials = remote
    env = {**env, **credentials}
    _run(["dvc", "remote", "add", "-f", "-d", "store", url], root, env)
    for key, value in settings.items():
        _run(["dvc", "remote", "modify", "store", key, value], root, env)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "results and the remote", "--allow-empty"], root, env)
    _run(["dvc", "push", "--run-cache"], root, env)
    return env


@pytest.mark.parametrize("remote", ["local", "s3"], indirect=True)
def test_push_then_a_fresh_clone_pulls_and_repro_does_nothing(workspace, remote, tmp_path):
    root, env, _ = workspace
    env = _commit_remote(root, env, remote)
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    _run(["dvc", "pull"], clone, env)
    log = _run(["dvc", "repro"], clone, env)
    assert "Running stage" not in log and "Data and pipelines are up to date" in log
    assert (clone / "models" / "ft" / "se-wc" / "world-0" / "seed-0" / "card.json").exists()


@pytest.mark.parametrize("remote", ["s3"], indirect=True)
def test_a_ci_rerun_of_a_changed_budget_reruns_only_what_it_reaches_and_reports_the_difference(
        workspace, remote, tmp_path):
    """A pull request changes budget.ratio: CI's command pulls from the S3 remote, reruns only the stages the param
    reaches (DVC's own output), pushes back, and reports the params and headline changes."""
    root, env, _ = workspace
    env = _commit_remote(root, env, remote)
    main = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], root, env).strip()
    clone = tmp_path / "pull-request"
    _run(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    _run(["git", "checkout", "-qb", "ratio-3"], clone, env)
    params = yaml.safe_load((clone / "params.yaml").read_text())
    params["budget"]["ratio"] = 3
    (clone / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "commit", "-qam", "budget.ratio 3"], clone, env)
    log = _run(["computematch", "ci-rerun", "--base", f"origin/{main}", "--report", "ci-report.md", "--commit"],
               clone, env)
    assert "ci-rerun: report in ci-report.md" in log
    report = (clone / "ci-report.md").read_text()
    ran = set(re.findall(r"`([\w@-]+)`", report.split("## Stages")[1].split("Restored from")[0]))
    assert ran == {"sample@wc", "sample@se", "filter@wc", "filter@se", "judge", "report", "adaptive",
                   "filter-adaptive",  # the adaptive arm matches the uniform WC arm's FLOPs
                   *(f"{stage}@{role}" for stage in ("finetune", "evaluate") for role in ("student", "wc", "se"))}
    assert re.search(r"\| params.yaml +\| budget.ratio +\| auto +\| 3 +\|", report)
    assert "metrics/headline.json" in report and "data.coverage.wc" in report  # WC's data changed
    assert "![accuracy](metrics/plots/accuracy.png)" in report
    # pushed back, and the lock committed (--commit): another checkout of the branch pulls everything, reruns nothing
    again = tmp_path / "again"
    _run(["git", "clone", "-q", "-b", "ratio-3", str(clone), str(again)], tmp_path, env)
    _run(["git", "fetch", "-q", str(root), f"{main}:refs/remotes/origin/{main}"], again, env)
    _run(["computematch", "ci-rerun", "--base", f"origin/{main}", "--report", "ci-report.md"], again, env)
    second = (again / "ci-report.md").read_text()
    assert "Ran 0: none." in second and "budget.ratio" in second
    assert (again / "models/ft/se-wc/world-1/seed-0/card.json").exists()


def test_a_ci_rerun_against_an_unreachable_or_incomplete_remote_fails_in_one_line(workspace, tmp_path):
    root, env, _ = workspace
    store = tmp_path / "store"
    env = _commit_remote(root, env, (str(store), {}, {}))
    objects = sorted(path for path in store.rglob("*") if path.is_file())
    clone = tmp_path / "clone"
    _run(["git", "clone", "-q", str(root), str(clone)], tmp_path, env)
    missing = next(path for path in objects if path.name.endswith(".dir") is False and path.stat().st_size > 1000)
    missing.rename(tmp_path / "kept-aside")
    result = subprocess.run(["computematch", "ci-rerun", "--base", "HEAD"], cwd=clone, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: `dvc pull --run-cache` failed:") and len(result.stderr.splitlines()) == 1
    # nothing already pushed is lost: every other object is still on the remote
    assert sorted(path for path in store.rglob("*") if path.is_file()) == [p for p in objects if p != missing]
    _run(["dvc", "remote", "modify", "--local", "store", "url", "s3://bucket/nowhere"], clone, env)
    _run(["dvc", "remote", "modify", "--local", "store", "endpointurl", f"http://127.0.0.1:{_free_port()}"], clone, env)
    unreachable = subprocess.run(["computematch", "ci-rerun", "--base", "HEAD"], cwd=clone, env=env,
                                 capture_output=True, text=True, timeout=900)
    assert unreachable.returncode == 2 and "Traceback" not in unreachable.stderr
    assert len(unreachable.stderr.splitlines()) == 1 and "dvc pull" in unreachable.stderr


def test_report_has_the_papers_tables_and_plots(workspace):
    root, _, _ = workspace
    report = (root / "metrics" / "report.md").read_text()
    assert "## (a) Data quality" in report and "| Student-LM |" in report and "| SE-LM |" in report
    for plot in ("coverage", "diversity", "coverage_by_level", "fpr_by_level", "accuracy"):
        assert (root / "metrics" / "plots" / f"{plot}.png").stat().st_size > 1000
        assert f"plots/{plot}.png" in report
    study = json.loads((root / "metrics" / "study.json").read_text())
    assert study["worlds"] == [0, 1] and study["setups"]["SE-LM"]["worlds"] == [0, 1]
    assert set(study["data"]["coverage"]["wc"]["by_world"]) == {"0", "1"}
    assert set(study["calibration"]["by_world"]) == {"0", "1"} and "Worlds meeting each target" in report
    gain = study["setups"]["SE-LM"]["gain"]
    assert gain["low"] <= gain["mean"] <= gain["high"] and study["setups"]["SE-LM"]["verdict"]
    assert set(study["controls"]) == {"sample-matched"} and "verified-only" in study["controls_not_run"]
    data = _metrics(root, "data", "wc")
    assert set(data["guessing_baseline"]["by_difficulty"]) == {"2", "3"} and set(data["variants"]) == {
        "verified", "matched", "low"}
    assert _metrics(root, "finetune", "se-wc", 0, 0)["training_flops"]["non_embedding"] > 0
    evaluation = _metrics(root, "eval", "se-wc", 1, 0)
    assert {"pass@1", "greedy", "maj@2", "by_difficulty", "by_grading", "environment"} <= set(evaluation)
    assert "Decontamination (8-word n-grams" in report and "duplicates dropped" in report
    assert "Produced with: " in report and "transformers " in report


def test_second_repro_does_nothing(workspace):
    root, env, _ = workspace
    log = _run(["dvc", "repro"], root, env)
    assert "Running stage" not in log


def test_a_queued_sweep_completes_every_experiment_and_shares_the_repositorys_stores(workspace, mlflow_server,
                                                                                     tmp_path):
    """DVC's grid syntax queues one experiment per value; `dvc queue start` runs them in temporary copies of the
    repository. They reuse its finished samples (and leave theirs), log to the same MLflow store, and
    `dvc exp show --only-changed` lists them with their headline. In a copy: the stores of the tests below stay
    their own."""
    import csv
    import io

    from mlflow.tracking import MlflowClient

    source, env, _ = workspace
    root = tmp_path / "sweep"
    shutil.copytree(source, root, symlinks=True)
    _run(["git", "add", "-A"], root, env)
    _run(["git", "commit", "-qm", "the study's results", "--allow-empty"], root, env)
    queued = _run(["dvc", "exp", "run", "--queue", "-S", "budget.ratio=2,3"], root, env)
    names = re.findall(r"Queued experiment '([\w-]+)'", queued)
    assert len(names) == 2, queued
    _run(["dvc", "queue", "start"], root, env)
    deadline = time.monotonic() + 900
    while re.search(r"\b(Queued|Running)\b", status := _run(["dvc", "queue", "status"], root, env)):
        assert time.monotonic() < deadline, status
        time.sleep(5)
    assert all(re.search(rf"{name}\s.*Success", status) for name in names), status
    for name in names:  # SE's samples came from the repository's store: none drawn twice
        log = _run(["dvc", "queue", "logs", name], root, env)
        assert re.search(r"sample@se/world-0: S=2 \(ratio 1.000\), 32 samples \(0 drawn now", log), log[-3000:]
    assert all(name in _run(["dvc", "exp", "show", "--only-changed", "--csv"], root, env) for name in names)
    table = list(csv.DictReader(io.StringIO(_run(["dvc", "exp", "show", "--csv"], root, env))))
    swept = {row["budget.ratio"]: row for row in table if row["Experiment"] in names}
    assert set(swept) == {"2", "3"} and all(row["gain.SE-LM.mean"] for row in swept.values())
    assert swept["2"]["data.flops.wc"] != swept["3"]["data.flops.wc"]
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("computematch-test")
    for name in names:  # the temporary copies logged to the study's MLflow store, grouped under their names
        runs = client.search_runs([experiment.experiment_id], filter_string=f"tags.`dvc.exp_name` = '{name}'")
        assert any(r.data.tags["computematch.stage"].startswith("finetune@se-wc") for r in runs)


def test_exp_run_with_a_new_ratio_reruns_only_the_wc_side(workspace):
    root, env, _ = workspace
    log = _run(["dvc", "exp", "run", "-S", "budget.ratio=3"], root, env)
    ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}
    roles = ("student", "wc", "se")  # each model's stage trains both data sources in both worlds
    # The SE arm's sampling reads `budget` too (one matrix for both arms) but draws nothing: its data is unchanged,
    # so no control reruns, and the model stages restore their SE-data members from the member store. Not the
    # sample-matched control: its data (WC's first S_SE samples) is the same prefix whatever S_WC is.
    assert ran == {"sample@wc", "sample@se", "filter@wc", "filter@se", "judge", "report", "adaptive",
                   "filter-adaptive",
                   *(f"finetune@{role}" for role in roles), *(f"evaluate@{role}" for role in roles)}
    for role in roles:
        for world in (0, 1):
            assert "restored_from" in json.loads((root / f"models/ft/{role}-se/world-{world}/seed-0/card.json"
                                                  ).read_text())
            assert "restored_from" not in json.loads((root / f"models/ft/{role}-wc/world-{world}/seed-0/card.json"
                                                      ).read_text())
    assert _metrics(root, "data", "wc")["samples_per_problem"] == 6
    assert _metrics(root, "sample", "wc")["reused"] > 0  # the earlier samples are a prefix of the new ones
    assert _metrics(root, "sample", "se", 1)["drawn"] == 0


def test_adding_a_world_computes_only_the_new_worlds_base_models_and_samples(workspace):
    """Every step is one stage holding every world, so a new world reruns them all; but what the other worlds
    computed comes back from the stores (base models, samples, finetuned members), byte for byte."""
    root, env, _ = workspace
    before = {path: path.read_bytes() for path in (root / "models").rglob("model.safetensors")}
    log = _run(["dvc", "exp", "run", "-S", "study.worlds=[0,1,2]"], root, env)
    ran = {line.split("'")[1] for line in log.splitlines() if line.startswith("Running stage")}
    assert {"bootstrap", "sample@wc", "sample@se", "filter@wc", "evaluate-base", "adaptive", "filter-adaptive",
            "report"} <= ran
    # base models: worlds 0 and 1 restored from data/resume/bootstrap/ (same bytes), only world 2's pretrained
    for role in ("student", "wc", "se"):
        assert re.search(rf"bootstrap@{role}/world-[01]: .* restored from data/resume/bootstrap/{role}/", log)
        assert not re.search(rf"bootstrap@{role}/world-2: .* restored from", log)
        assert f"pretrain@{role}/world-2" in log and f"pretrain@{role}/world-0" not in log
    assert all(path.read_bytes() == content for path, content in before.items())
    # samples: worlds 0 and 1 drew nothing (all from the resume store), world 2 drew its own
    for arm in ("wc", "se"):
        assert [_metrics(root, "sample", arm, world)["drawn"] for world in (0, 1)] == [0, 0]
        assert _metrics(root, "sample", arm, 2)["drawn"] > 0
    # The cells reran (they hold every world) but restored worlds 0 and 1 from the member store: only world 2 trained
    cards = {world: json.loads((root / f"models/ft/se-wc/world-{world}/seed-0/card.json").read_text())
             for world in (0, 1, 2)}
    assert ["restored_from" in cards[world] for world in (0, 1, 2)] == [True, True, False]
    assert "finetune@se-wc/world-2/seed-0: 1/" in log and "finetune@se-wc/world-0/seed-0: 1/" not in log
    study = json.loads((root / "metrics" / "study.json").read_text())
    assert study["worlds"] == [0, 1, 2] and study["setups"]["SE-LM"]["gain"]["worlds"] == 3
