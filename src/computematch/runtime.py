"""Where torch runs: the thread count and the device, applied once at the start of a stage that uses torch.

    device = apply_runtime(params.runtime)   # 'cpu' or 'cuda'
"""

from __future__ import annotations

from computematch.config import RuntimeConfig


def apply_runtime(runtime: RuntimeConfig) -> str:
    """Set torch's thread count (it changes float sums, so it is a param); return the device to use."""
    import torch

    torch.set_num_threads(runtime.threads)
    if runtime.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return runtime.device
