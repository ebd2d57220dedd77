"""The transformers backend: batched `generate` with a KV cache and per-sample Gumbel-max streams."""

from __future__ import annotations

from computematch.config import Decoding, RuntimeConfig
from computematch.sampling.base import Completion, Request, cut_at_stop
from computematch.sampling.streams import gumbel_noise, sample_key


class GumbelNoise:
    """A logits processor that adds each row's own Gumbel noise, so greedy decoding samples.

    Applied after temperature and top-p: argmax(logits / T + g) over the top-p set is a draw from
    the tempered, truncated distribution.
    """

    def __init__(self, keys, prompt_width: int):
        self.keys = keys
        self.prompt_width = prompt_width

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_width
        noise = gumbel_noise(self.keys, step, scores.shape[-1]).to(scores.dtype)
        return scores + noise


class TransformersBackend:
    name = "transformers"

    def __init__(self, model_dir, device: str = "cpu", stop: tuple[str, ...] = (), runtime: RuntimeConfig | None = None):
        from computematch.models import load_model

        self._attach(*load_model(model_dir, device, dtype=(runtime or RuntimeConfig()).dtype), device, stop)

    @classmethod
    def from_loaded(cls, model, tokenizer, device: str = "cpu", stop: tuple[str, ...] = ()) -> "TransformersBackend":
        """A backend over a model in memory (one being pretrained); `tokenizer` must pad on the left."""
        backend = cls.__new__(cls)
        backend._attach(model, tokenizer, device, stop)
        return backend

    def _attach(self, model, tokenizer, device: str, stop: tuple[str, ...]) -> None:
        self.model, self.tokenizer, self.device, self.stop = model, tokenizer, device, tuple(stop)
        eos = self.model.generation_config.eos_token_id
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])

    def generate(self, requests: list[Request], decoding: Decoding) -> list[Completion]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList, TemperatureLogitsWarper, TopPLogitsWarper

        encoded = self.tokenizer([r.prompt for r in requests], padding=True, return_tensors="pt").to(self.device)
        width = encoded["input_ids"].shape[1]
        processors = LogitsProcessorList()
        if decoding.temperature > 0:
            processors.append(TemperatureLogitsWarper(decoding.temperature))
            if decoding.top_p < 1.0:
                processors.append(TopPLogitsWarper(decoding.top_p))
            keys = torch.tensor(
                [sample_key(decoding.seed, r.problem_id, r.sample_index) for r in requests],
                dtype=torch.int64, device=self.device,
            )
            processors.append(GumbelNoise(keys, width))
        generation = GenerationConfig(
            max_new_tokens=decoding.max_new_tokens,
            do_sample=False,  # the Gumbel noise above does the sampling
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=sorted(self.eos_ids),
        )
        extra = {"stop_strings": list(self.stop), "tokenizer": self.tokenizer} if self.stop else {}
        with torch.inference_mode():
            output = self.model.generate(**encoded, generation_config=generation, logits_processor=processors, **extra)
        prompt_tokens = encoded["attention_mask"].sum(dim=1).tolist()
        completions = []
        for row, generated in enumerate(output[:, width:].tolist()):
            length = next((i + 1 for i, token in enumerate(generated) if token in self.eos_ids), None)
            finished = length is not None
            tokens = generated[:length] if finished else generated
            while not finished and tokens and tokens[-1] == self.tokenizer.pad_token_id:
                tokens.pop()  # padding after a row stopped at a stop string
            text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), self.stop)
            completions.append(Completion(text, int(prompt_tokens[row]), len(tokens), finished or stopped))
        return completions
