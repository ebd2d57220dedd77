"""Scale-out on real engines, on loopback: data-parallel finetuning over gloo ranks, sampling on a local Ray cluster.

(The DVC remote on an S3-compatible server and the MLflow tracking server are tested on the whole pipeline, in
test_pipeline.py.)"""

import importlib.util
import os
import signal
import subprocess
import threading
import time

import pytest

from computematch.config import Decoding
from computematch.sft_ranks import TrainingError, distributed_finetune
from computematch.sampling.driver import SampleStore, draw

pytestmark = pytest.mark.scaleout
require_ray = pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                 reason="test requires Ray (pip install 'computematch[ray]')")
FIELDS = {"max_steps": 8, "learning_rate": 1e-2, "save_steps": 4, "logging_steps": 1, "seed": 0, "warmup_steps": 0}


def _records(tiny_task):
    return [{"prompt": tiny_task.prompt(p), "completion": p.solution} for p in tiny_task.make_splits()["train"]] * 8


def _validation_loss(model_dir, tiny_task) -> float:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from computematch.pretraining import _collate, encode_examples

    tokenizer, model = AutoTokenizer.from_pretrained(model_dir), AutoModelForCausalLM.from_pretrained(model_dir)
    val = tiny_task.make_splits()["val"]
    examples = encode_examples(tokenizer, [tiny_task.prompt(p) for p in val], [p.solution for p in val])
    input_ids, attention, labels = _collate(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        return model(input_ids=input_ids, attention_mask=attention, labels=labels).loss.item()


def test_two_ranks_train_what_one_process_trains_at_the_same_global_batch(tiny_model_dir, tiny_task, tmp_path):
    from computematch.sft import finetune

    records = _records(tiny_task)
    single, history = finetune(tiny_model_dir, records, {**FIELDS, "per_device_train_batch_size": 16},
                               tmp_path / "one")
    double, history2 = distributed_finetune(tiny_model_dir, records, {**FIELDS, "per_device_train_batch_size": 8},
                                            tmp_path / "two", processes=2)
    assert [c.name for c in double] == [c.name for c in single] == ["checkpoint-4", "checkpoint-8"]
    one, two = _validation_loss(single[-1], tiny_task), _validation_loss(double[-1], tiny_task)
    assert abs(one - two) < 0.02 * one, (one, two)
    losses = [(e["loss"], f["loss"]) for e, f in zip(history, history2) if "loss" in e]
    assert len(losses) == 8 and all(abs(a - b) < 0.02 * a for a, b in losses)  # cross-rank averaged, as one
    assert not list((tmp_path / "two").glob("checkpoint-*/rng_state_1*"))  # only rank 0 saves


def _rank_pids(spec: str) -> dict[int, int]:
    """RANK -> pid of the ranks running `spec`."""
    found = subprocess.run(["pgrep", "-f", spec], capture_output=True, text=True).stdout.split()
    ranks = {}
    for pid in found:
        try:
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        for entry in environ:
            if entry.startswith(b"RANK="):
                ranks[int(entry[5:])] = int(pid)
    return ranks


def test_a_killed_rank_stops_the_run_in_one_line(tiny_model_dir, tiny_task, tmp_path):
    failure = {}

    def train():
        try:
            distributed_finetune(tiny_model_dir, _records(tiny_task), {**FIELDS, "max_steps": 100000,
                                                                      "save_steps": 100000,
                                                                      "per_device_train_batch_size": 8},
                                 tmp_path / "run", processes=2, desc="finetune@se-wc")
        except TrainingError as error:
            failure["error"], failure["at"] = error, time.monotonic()

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and set(_rank_pids(str(tmp_path / "run" / "spec.json"))) != {0, 1}:
        time.sleep(0.1)
    time.sleep(8)  # both ranks importing or training
    killed_at = time.monotonic()
    os.kill(_rank_pids(str(tmp_path / "run" / "spec.json"))[1], signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive()
    message = str(failure["error"])
    assert message == "finetune@se-wc: training rank 1 of 2 was killed by signal 9; the other ranks were stopped and " \
                      "nothing was written"
    assert failure["at"] - killed_at < 15
    assert _rank_pids(str(tmp_path / "run" / "spec.json")) == {}  # no rank left behind


@pytest.fixture()
def ray_dir():
    """A short session folder: Ray's socket paths under it must fit in 107 bytes (pytest's tmp_path is too long)."""
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="cm-ray-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class _Listening:
    """TCP sockets in LISTEN state and their local addresses, from /proc/net/tcp{,6}."""

    @staticmethod
    def addresses() -> set[str]:
        found = set()
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(name) as handle:
                for line in handle.readlines()[1:]:
                    local, state = line.split()[1], line.split()[3]
                    if state == "0A":  # LISTEN
                        found.add(local.split(":")[0])
        return found


@require_ray
def test_two_ray_workers_draw_the_bytes_one_process_draws_and_listen_on_loopback_only(tiny_model_dir, tiny_task,
                                                                                    tmp_path, monkeypatch, ray_dir):
    from computematch.sampling import get_backend
    from computematch.sampling.ray_pool import RayPool

    monkeypatch.chdir(tmp_path)
    prompts = {p.id: tiny_task.prompt(p) for p in tiny_task.make_splits()["train"]}
    decoding = Decoding(temperature=1.0, max_new_tokens=24, seed=0)
    single, _ = draw(get_backend("transformers", tiny_model_dir), decoding, prompts, 4, SampleStore(tmp_path / "a"), 16)
    before = _Listening.addresses()
    pool = RayPool("transformers", tiny_model_dir, workers=2, temp_dir=ray_dir)
    try:
        during = _Listening.addresses() - before
        spread, _ = draw(pool, decoding, prompts, 4, SampleStore(tmp_path / "b"), 16)
    finally:
        pool.close()
    assert (tmp_path / "b").read_bytes() and spread == single
    assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text()  # byte-identical stores
    loopback = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}
    assert during and during <= loopback, during  # Ray's servers: 127.0.0.1 only


@require_ray
def test_a_killed_ray_worker_fails_in_one_line_and_the_rerun_resumes_with_nothing_lost(tiny_model_dir, tiny_task,
                                                                                     tmp_path, monkeypatch, ray_dir):
    from computematch.sampling.ray_pool import RayPool, WorkerLostError

    monkeypatch.chdir(tmp_path)
    prompts = {p.id: tiny_task.prompt(p) for p in tiny_task.make_splits()["train"]}
    decoding = Decoding(temperature=1.0, max_new_tokens=24, seed=0)
    pool = RayPool("transformers", tiny_model_dir, workers=2, temp_dir=ray_dir)

    class KillsAWorker:
        """The pool, but worker 1 is SIGKILLed before the third batch."""

        name, calls = pool.name, 0

        def generate(self, requests, decoding):
            self.calls += 1
            if self.calls == 3:
                os.kill(pool.pids()[1], signal.SIGKILL)
            return pool.generate(requests, decoding)

    store_path = tmp_path / "store.jsonl"
    try:
        with pytest.raises(WorkerLostError, match="rerun the stage to resume") as error:
            draw(KillsAWorker(), decoding, prompts, 4, SampleStore(store_path), 4)
    finally:
        pool.close()
    assert "\n" not in str(error.value)
    kept = len(SampleStore(store_path).records)
    assert kept == 2 * 4  # the two finished batches
    fresh = RayPool("transformers", tiny_model_dir, workers=2, temp_dir=ray_dir)
    try:
        resumed, drawn = draw(fresh, decoding, prompts, 4, SampleStore(store_path), 4)
    finally:
        fresh.close()
    clean, _ = draw(fresh_backend(tiny_model_dir), decoding, prompts, 4, SampleStore(tmp_path / "clean.jsonl"), 4)
    assert drawn == len(prompts) * 4 - kept and resumed == clean


def fresh_backend(model_dir):
    from computematch.sampling import get_backend

    return get_backend("transformers", model_dir)
