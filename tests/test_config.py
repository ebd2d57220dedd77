import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from computematch.errors import ConfigError

from computematch.config import load_params, parse_params

REPO = Path(__file__).resolve().parents[1]


def _raw(**changes):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = raw
        for part in parents:
            node = node[part]
        node[leaf] = value
    return raw


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert set(params.models) == {"student", "wc", "se"} and params.budget.ratio == "auto"


@pytest.mark.parametrize("changes, culprit", [
    ({"budget__se_samples": -1}, "budget.se_samples"),
    ({"budget__se_samples": 0}, "budget.se_samples"),
    ({"budget__se_samples": "3"}, "budget.se_samples"),
    ({"budget__ratio": "three"}, "budget.ratio"),
    ({"budget__ratio": -2.0}, "budget.ratio"),
    ({"budget__param_count": "active"}, "budget.param_count"),
    ({"budget__sample_count": 3}, "budget.sample_count"),
    ({"sampling__temperature": -0.1}, "sampling.temperature"),
    ({"sampling__top_p": 0}, "sampling.top_p"),
    ({"task__levels": []}, "task.levels"),
    ({"task__corpus_weights": [1, 2]}, "task.corpus_weights"),
    ({"tracking__enabled": "yes"}, "tracking.enabled"),
    ({"budget__ratio": float("nan")}, "budget.ratio"),
    ({"budget__ratio": float("inf")}, "budget.ratio"),
    ({"sampling__temperature": float("nan")}, "sampling.temperature"),
    ({"evaluation__top_p": float("nan")}, "evaluation.top_p"),
    ({"sampling__backend": "vllmm"}, "sampling.backend"),
    ({"evaluation__backend": "tgi"}, "evaluation.backend"),
    ({"evaluation__standard_error": 0}, "evaluation.standard_error"),
    ({"evaluation__standard_error": -2}, "evaluation.standard_error"),
    ({"evaluation__standard_error": "two"}, "evaluation.standard_error"),
    ({"filter__dedup": "yes"}, "filter.dedup"),
    ({"task__decontamination_ngram": -1}, "task.decontamination_ngram"),
])
def test_bad_values_name_their_key(changes, culprit):
    with pytest.raises(ConfigError, match=rf"^{culprit}:"):
        parse_params(_raw(**changes))


def test_yaml_nan_and_infinity_are_rejected_by_name(tmp_path):
    for spelling in (".nan", ".inf", "-.inf"):
        text = (REPO / "params.yaml").read_text().replace("ratio: auto ", f"ratio: {spelling} ")
        result = _cli(tmp_path, text, "budget")
        assert result.returncode == 2 and result.stderr.startswith("error: budget.ratio: must be a finite number")


@pytest.mark.parametrize("section, bad, culprit", [
    ("pretrain", "hidden_sise", "models.wc.pretrain.hidden_sise: not a transformers LlamaConfig field"),
    ("finetune", "learning_rat", "finetune.learning_rat: not a TRL SFTConfig field"),
    ("peft", "lora_alpah", "finetune.peft.lora_alpah: not a peft LoraConfig field"),
])
def test_misspelled_passthrough_fields_fail_every_stage_at_load(tmp_path, section, bad, culprit):
    raw = _raw(tracking__enabled=False)
    if section == "pretrain":
        raw["models"]["wc"]["pretrain"][bad] = 64
    elif section == "peft":
        raw["finetune"]["peft"] = {"r": 4, bad: 8}
    else:
        raw["finetune"][bad] = 1e-3
    result = _cli(tmp_path, yaml.safe_dump(raw), "prepare")  # the first stage, long before finetune or bootstrap
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [f"error: {culprit}"]
    assert not (tmp_path / "data").exists()


def test_unknown_model_key_and_section_are_rejected():
    raw = _raw()
    raw["models"]["teacher"] = {"load": "x"}
    with pytest.raises(ConfigError, match=r"^models.teacher: unknown model key"):
        parse_params(raw)
    with pytest.raises(ConfigError, match=r"^finetuning: unknown section"):
        parse_params({**_raw(), "finetuning": {}})
    without_student = _raw()
    del without_student["models"]["student"]
    with pytest.raises(ConfigError, match=r"^models.student: unknown model key"):
        parse_params(without_student).model("student")


def test_model_spec_needs_exactly_one_source():
    raw = _raw()
    raw["models"]["wc"] = {"load": "some/model", "pretrain": {"hidden_size": 8}}
    with pytest.raises(ConfigError, match=r"^models.wc: give exactly one"):
        parse_params(raw)


def test_malformed_yaml_is_one_line_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("budget: [se_samples: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def _cli(tmp_path, params_text, *args):
    (tmp_path / "params.yaml").write_text(params_text)
    return subprocess.run([sys.executable, "-m", "computematch.cli", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def test_cli_reports_a_negative_budget_in_one_line_and_fails(tmp_path):
    text = (REPO / "params.yaml").read_text().replace("se_samples: 3", "se_samples: -3")
    result = _cli(tmp_path, text, "budget")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: budget.se_samples: must be a positive integer, got -3"]


def test_cli_reports_a_missing_model_directory_and_leaves_no_output(tmp_path):
    raw = _raw(tracking__enabled=False)
    raw["models"]["wc"] = {"load": "./no/such/model"}
    result = _cli(tmp_path, yaml.safe_dump(raw), "bootstrap", "--world", "0")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "error: models.wc.load: directory ./no/such/model does not exist"
    assert not (tmp_path / "models" / "base").exists()  # no role of the world started


def test_cli_rejects_an_unknown_arm(tmp_path):
    result = _cli(tmp_path, (REPO / "params.yaml").read_text(), "sample", "teacher")
    assert result.returncode == 2 and "teacher" in result.stderr
    result = _cli(tmp_path, (REPO / "params.yaml").read_text(), "sample", "wc", "--world", "-1")
    assert result.returncode == 2 and "--world" in result.stderr  # a world is a number from 0


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")) + [REPO / "params.yaml"],
                         ids=lambda path: path.name)
def test_every_configuration_is_valid_and_has_every_section_dvc_reads(path):
    params = load_params(path)
    raw = yaml.safe_load(path.read_text())
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    listed = {entry.split(".")[0] for stage in stages.values() for entry in (stage.get("do", stage).get("params") or [])
              if "${" not in entry}
    assert listed <= set(raw), f"{path.name} lacks {sorted(listed - set(raw))}"
    assert {"wc", "se", "student"} <= set(params.models)


def test_the_cli_starts_without_importing_heavy_libraries():
    code = ("import sys, computematch.cli as cli; "
            "heavy = {'torch', 'transformers', 'trl', 'mlflow', 'dvc', 'datasets'} & set(sys.modules); "
            "assert not heavy, heavy; cli.cli.main(['--help'], standalone_mode=False)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "sample" in result.stdout and "finetune" in result.stdout


def test_the_quick_configuration_is_the_default_with_one_world_and_no_controls():
    """configs/quick.yaml must not drift from params.yaml: only the study's size differs."""
    default, quick = (yaml.safe_load(path.read_text()) for path in (REPO / "params.yaml", REPO / "configs" / "quick.yaml"))
    assert quick["study"]["worlds"] == [default["study"]["worlds"][0]] and quick["study"]["controls"] == []
    assert len(default["study"]["worlds"]) >= 3
    for raw in (default, quick):
        raw["study"].pop("worlds"), raw["study"].pop("controls")
    assert quick == default
