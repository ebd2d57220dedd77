"""Offline, quiet, single-threaded tests; tiny objects built once per session."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from computematch.config import PretrainConfig, TaskConfig  # noqa: E402

TINY_TASK = TaskConfig(train_size=8, val_size=4, test_size=6, levels=(2, 3), corpus_size=300, corpus_weights=(1, 1))
TINY_LLAMA = {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32}


@pytest.fixture(scope="session")
def tiny_task():
    from computematch.tasks import get_task

    return get_task(TINY_TASK)


def build_tiny_model(task, fields: dict, directory):
    """A Llama with `fields` briefly pretrained on the task's corpus, saved with its tokenizer in `directory`."""
    import torch

    from computematch.models import build_task_tokenizer
    from computematch.pretraining import pretrain

    torch.set_num_threads(1)
    corpus = task.make_splits()["corpus"]
    tokenizer = build_task_tokenizer("\n".join(task.prompt(p) + p.solution for p in corpus))
    model, _ = pretrain(fields, tokenizer, [task.prompt(p) for p in corpus], [p.solution for p in corpus],
                        PretrainConfig(steps=20, batch_size=16, learning_rate=3e-3, warmup_steps=2))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_task):
    """A 1-layer Llama briefly pretrained on the arith corpus, saved with its tokenizer."""
    return build_tiny_model(tiny_task, TINY_LLAMA, tmp_path_factory.mktemp("tiny-model"))
