"""Faults and bad inputs: an unreachable tracking server, killed runs' leftovers, empty splits, progress output."""

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from computematch.errors import BadInputError
from computematch.io import replace_dir, staging_dir
from computematch.progress import Progress

REPO = Path(__file__).resolve().parents[1]


def _cli(cwd, *args, env=None, params_text=None):
    import os

    (cwd / "params.yaml").write_text(params_text or (REPO / "params.yaml").read_text())
    return subprocess.run([sys.executable, "-m", "computematch.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def test_an_unreachable_tracking_server_fails_fast_in_one_line_and_leaves_nothing(tmp_path):
    started = time.perf_counter()
    result = _cli(tmp_path, "prepare", env={"MLFLOW_TRACKING_URI": "http://127.0.0.1:9"})
    assert time.perf_counter() - started < 60
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "http://127.0.0.1:9" in lines[0] and "unreachable" in lines[0]
    assert not (tmp_path / "data").exists() and not (tmp_path / "metrics").exists()


def test_a_killed_runs_staging_directory_is_removed_by_the_next_run(tmp_path):
    target = tmp_path / "models" / "ft" / "se-se"
    stale = tmp_path / "models" / "ft" / ".se-se.k1ll3d" / "trainer" / "checkpoint-5"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"x" * 1000)
    other = tmp_path / "models" / "ft" / ".se-wc.running"  # another target's staging area is left alone
    other.mkdir()
    with staging_dir(target) as work:
        assert not stale.parent.parent.exists()
        (work / "best").mkdir()
        (work / "best" / "card.json").write_text("{}")
        replace_dir(work / "best", target)
    assert (target / "card.json").exists() and other.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == [".se-wc.running", "se-se"]


def test_a_failed_stage_leaves_no_staging_directory_and_no_output(tmp_path):
    target = tmp_path / "models" / "base" / "wc"
    with pytest.raises(RuntimeError):
        with staging_dir(target) as work:
            (work / "weights").write_text("half")
            raise RuntimeError("killed")
    assert list(target.parent.iterdir()) == []


def test_staging_directories_are_ignored_by_git():
    for path in ("models/ft/.se-se.abc123/trainer/checkpoint-5/x", "models/base/wc/.world-0.q1w2e3/model.safetensors",
                 "models/ft/se-se/world-0/.seed-0.abc123/trainer/checkpoint-5/x"):  # a member staged in its cell
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO)
        assert result.returncode == 0, path
    assert subprocess.run(["git", "check-ignore", "-q", "models/ft/.gitignore"], cwd=REPO).returncode == 1


def test_an_empty_train_split_fails_at_the_first_stage_that_reads_it(tmp_path, monkeypatch):
    from computematch.splits import read_split

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "prepare").mkdir(parents=True)
    (tmp_path / "data" / "prepare" / "train.jsonl").write_text("")
    with pytest.raises(BadInputError, match=r"^data/prepare/train.jsonl: the train split is empty"):
        read_split("train")


def test_progress_without_a_terminal_is_a_periodic_line_with_loss_and_eta():
    stream = io.StringIO()
    with Progress(total=4, desc="pretrain@wc", stream=stream, every_s=0.0, tty=False) as progress:
        for step in range(4):
            progress.update(1, loss=2.0 - step / 4)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith("pretrain@wc: 1/4 steps (25%), loss 2, ") and "ETA" in lines[0]
    assert lines[-1].startswith("pretrain@wc: 4/4 steps (100%), loss 1.25, ") and "ETA" not in lines[-1]


def test_progress_lines_are_rate_limited():
    stream = io.StringIO()
    with Progress(total=1000, desc="x", stream=stream, every_s=3600, tty=False) as progress:
        for _ in range(1000):
            progress.update(1)
    assert len(stream.getvalue().splitlines()) == 2  # the first step and the last


def test_pretraining_reports_its_progress(tiny_task, capsys):
    from computematch.config import PretrainConfig
    from computematch.models import build_task_tokenizer
    from computematch.pretraining import pretrain

    corpus = tiny_task.make_splits()["corpus"][:32]
    tokenizer = build_task_tokenizer("\n".join(tiny_task.prompt(p) + p.solution for p in corpus))
    pretrain({"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8}, tokenizer,
             [tiny_task.prompt(p) for p in corpus], [p.solution for p in corpus],
             PretrainConfig(steps=3, batch_size=4, warmup_steps=1), desc="pretrain@wc")
    err = capsys.readouterr().err
    assert "pretrain@wc: 3/3 steps (100%), loss " in err


def test_cards_and_metrics_say_what_produced_them():
    from computematch.provenance import environment

    env = environment(threads=1, backend="transformers")
    assert env["threads"] == 1 and env["torch"] and env["transformers"] and env["trl"] and env["math-verify"]
    assert env["cpu"] and "vllm" not in env
    assert yaml.safe_load(yaml.safe_dump(env)) == env  # plain values, safe in JSON and YAML


def test_a_queued_experiments_temporary_copy_uses_its_repositorys_stores():
    from computematch.paths import repository

    assert repository(Path("/home/me/study/.dvc/tmp/exps/tmpq1w2e3r4")) == Path("/home/me/study")
    assert repository(Path("/home/me/study/.dvc/tmp/exps/tmpq1w2e3r4/data")) == Path("/home/me/study")
    assert repository(Path("/home/me/study")) is None


def test_a_member_stored_twice_is_kept_whole_once(tmp_path):
    from computematch.io import read_json
    from computematch.member_store import RESULT_FILE, keep

    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w")
    entry = tmp_path / "store" / "member-abc"
    keep(entry, {"first": True}, model)
    keep(entry, {"first": False}, model)  # a second run with the same key: the stored entry stays
    assert read_json(entry / RESULT_FILE) == {"first": True} and (entry / "model" / "weights.bin").exists()
    assert [p.name for p in entry.parent.iterdir()] == ["member-abc"]  # no staging left behind
