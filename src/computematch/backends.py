"""Sampler backends by name: "module:Class", imported only when chosen (computematch.sampling.get_backend).

A leaf module (it imports nothing of the package), so that params validation (config) can name the known
backends without importing the sampling package, which itself builds on config.
"""

BACKENDS = {
    "transformers": "computematch.sampling.hf:TransformersBackend",
    "vllm": "computematch.sampling.vllm:VLLMBackend",
}
