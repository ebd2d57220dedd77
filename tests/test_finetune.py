"""TRL SFT on a tiny model, checkpoint selection, and the MLflow registry round trip."""

from pathlib import Path

import pytest

from computematch.errors import ConfigError
from computematch.sft import select_checkpoint, sft_config


def test_checkpoint_selection_picks_the_best_on_validation(tmp_path):
    candidates = [tmp_path / f"checkpoint-{step}" for step in (10, 20, 30, 40)]
    scores = {"checkpoint-10": 0.2, "checkpoint-20": 0.6, "checkpoint-30": 0.5, "checkpoint-40": 0.6}
    best, seen = select_checkpoint(candidates, lambda path: scores[path.name])
    assert best.name == "checkpoint-20" and seen == scores  # the earliest of equals


def test_no_checkpoint_is_an_error():
    with pytest.raises(ConfigError, match="no checkpoint"):
        select_checkpoint([], lambda path: 0.0)


def test_finetune_keys_must_be_sftconfig_fields(tmp_path):
    with pytest.raises(ConfigError, match=r"^finetune.learning_rat: not a TRL SFTConfig field"):
        sft_config({"learning_rat": 1e-3}, tmp_path, cuda=False)
    config = sft_config({"max_steps": 3, "learning_rate": 1e-3}, tmp_path, cuda=False)
    assert config.use_cpu and not config.bf16 and not config.gradient_checkpointing and config.max_steps == 3
    # every parameter of a fully finetuned causal LM gets a gradient: DDP need not search for unused ones
    assert config.ddp_find_unused_parameters is False
    assert sft_config({"ddp_find_unused_parameters": True}, tmp_path, cuda=False).ddp_find_unused_parameters


def test_sft_smoke_loss_drops_and_parameters_change(tiny_model_dir, tiny_task, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from computematch.sft import finetune

    problems = tiny_task.make_splits()["train"]
    records = [{"prompt": tiny_task.prompt(p), "completion": p.solution} for p in problems] * 8
    checkpoints, history = finetune(tiny_model_dir, records, {
        "max_steps": 12, "per_device_train_batch_size": 8, "learning_rate": 1e-2, "save_steps": 6,
        "logging_steps": 1, "seed": 0, "warmup_steps": 0,
    }, tmp_path / "run")
    assert [c.name for c in checkpoints] == ["checkpoint-6", "checkpoint-12"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    assert losses[-1] < losses[0]
    before = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    after = AutoModelForCausalLM.from_pretrained(checkpoints[-1]).state_dict()
    assert any(not torch.equal(before[name], after[name]) for name in before)


def test_lora_trains_adapters_merges_them_for_the_next_stages_and_counts_what_it_trained(
        tiny_model_dir, tiny_task, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from computematch.budget import training_flops
    from computematch.sft import ADAPTER_DIR, adapter_parameters, finetune

    problems = tiny_task.make_splits()["train"]
    records = [{"prompt": tiny_task.prompt(p), "completion": p.solution} for p in problems] * 4
    peft = {"r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0}
    checkpoints, _ = finetune(tiny_model_dir, records, {
        "max_steps": 4, "per_device_train_batch_size": 8, "learning_rate": 5e-2, "save_steps": 2, "seed": 0,
        "warmup_steps": 0, "peft": peft}, tmp_path / "run")
    assert [c.name for c in checkpoints] == ["checkpoint-2", "checkpoint-4"]
    last = checkpoints[-1]
    assert (last / ADAPTER_DIR / "adapter_config.json").exists() and not (last / "adapter_config.json").exists()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    merged = AutoModelForCausalLM.from_pretrained(last).state_dict()  # full weights, no adapter left to apply
    changed = {name for name in base if not torch.equal(base[name], merged[name])}
    assert changed and all(".q_proj." in name or ".v_proj." in name for name in changed)  # only where LoRA sat
    hidden, layers = 16, 1  # TINY_LLAMA: one layer, q and v projections of 16 x 16, rank 2: A (2x16) and B (16x2)
    assert adapter_parameters(last) == layers * 2 * (2 * hidden * 2) and adapter_parameters(tiny_model_dir) is None
    assert training_flops(100, 10, 4) == (4 * 100 + 2 * 4) * 10 and training_flops(100, 10) == 6 * 100 * 10


def test_registry_round_trip(tiny_model_dir, tmp_path, monkeypatch):
    import mlflow
    from transformers import AutoModelForCausalLM

    from computematch.config import parse_params
    from computematch.names import describe_cell
    from computematch.tracking import stage_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    params = parse_params({"models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "tracking": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}", "experiment": "t"}})
    registrations = []
    for _ in range(2):  # world 0 seed 0 registered twice (a later experiment): the alias follows the newest
        with stage_run(params, "finetune@se-wc", root=tmp_path) as trainer:
            registrations.append(trainer.register_model(tiny_model_dir, "computematch-se-on-wc", {"data_source": "wc"},
                                                        alias="world-0-seed-0", description=describe_cell("se", "wc")))
    with stage_run(params, "evaluate@se-wc", root=tmp_path) as evaluator:
        evaluator.log_metrics({"test_pass@1": 0.5})
        evaluator.annotate(registrations[1], {"test_pass@1": 0.5}, {"evaluated_by": evaluator.run_id})
    assert [str(r["version"]) for r in registrations] == ["1", "2"]
    local = mlflow.artifacts.download_artifacts("models:/computematch-se-on-wc@world-0-seed-0",
                                                dst_path=str(tmp_path / "back"))
    model = AutoModelForCausalLM.from_pretrained(local)
    assert model.config.hidden_size == 16 and Path(local).joinpath("config.json").exists()
    client = mlflow.tracking.MlflowClient()
    assert str(client.get_model_version_by_alias("computematch-se-on-wc", "world-0-seed-0").version) == "2"
    assert client.get_registered_model("computematch-se-on-wc").description == \
        "SE (the stronger-expensive model) finetuned on WC data: all compute-matched samples with a right final answer"
    version = client.get_model_version("computematch-se-on-wc", "2")
    assert version.tags["data_source"] == "wc" and version.tags["test_pass_at_1"] == "0.5"
    trained = client.get_run(registrations[1]["run_id"])  # the test metric on the evaluation run only
    assert "test_pass_at_1" not in trained.data.metrics
    assert trained.data.tags["computematch.evaluated_by"] == evaluator.run_id


def test_runs_carry_their_world_tags_and_the_experiment_opens_on_its_runs(tmp_path, monkeypatch):
    """The MLflow UI groups and filters by tags, and opens an experiment without `mlflow.experimentKind` on its
    GenAI overview; the parent run spans its stages instead of lasting the milliseconds of its creation."""
    import time

    from mlflow.tracking import MlflowClient

    from computematch.config import parse_params
    from computematch.tracking import experiment_link, model_tags, stage_run

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    params = parse_params({"models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "tracking": {"uri": uri, "experiment": "t"}})
    for world in (0, 1):
        with stage_run(params, f"evaluate@se-wc/world-{world}/seed-0", root=tmp_path,
                       tags=model_tags(world, "se", "wc", 0)) as tracker:
            tracker.log_metrics({"test_pass@1": 0.5})
            time.sleep(0.6)
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("t")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    runs = client.search_runs([experiment.experiment_id])
    stages = [r for r in runs if r.data.tags["computematch.role"] == "stage"]
    [parent] = [r for r in runs if r.data.tags["computematch.role"] == "pipeline"]
    assert sorted(r.data.tags["computematch.world"] for r in stages) == ["0", "1"]
    assert {key for r in stages for key in r.data.metrics} == {"test_pass_at_1"}  # one key for one quantity
    assert {(r.data.tags["computematch.model"], r.data.tags["computematch.data"]) for r in stages} == {("se", "wc")}
    assert parent.info.end_time - parent.info.start_time >= 1000
    assert {r.data.tags["computematch.arm"] for r in stages} == {"wc"}
    assert model_tags(0, "se") == {"world": 0, "model": "se", "data": "none", "arm": "none", "seed": "none"}
    assert model_tags(1, "se", "wc-verified", 0)["arm"] == "wc"
    assert experiment_link(params.tracking, tmp_path) == (
        f"mlflow ui --backend-store-uri {uri} --host 127.0.0.1 --port 5000, then open "
        f"http://127.0.0.1:5000/#/experiments/{experiment.experiment_id}?workflowType=machine_learning")
