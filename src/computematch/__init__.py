"""computematch: compute-matched synthetic data for training LLM reasoners (Bansal et al., 2024)."""

__version__ = "0.1.0"
