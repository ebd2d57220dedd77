"""A vLLM logits processor that samples with the project's keyed Gumbel-max streams (streams.py).

A request opts in with `SamplingParams(temperature=0.0, extra_args={"gumbel_key": K, "gumbel_temperature": T,
"gumbel_top_p": P})`. For its row the processor does exactly what the transformers backend (hf.py) does:

    logits / T  ->  top-p filter (transformers' TopPLogitsWarper)  ->  + gumbel_noise(K, step)

where step is the number of tokens the request has generated so far; vLLM's greedy argmax then picks the token
(the Gumbel-max trick). So a sample's randomness is the project's own, keyed by (seed, problem, sample index),
whatever the batch, and not vLLM's per-request generators (whose `seed=` path crashes the CPU engine once a
prompt's prefill is chunked: "CPU Generator does not use offset").

It is not argmax-invariant, so vLLM (V1 model runner) applies it in `Sampler.apply_logits_processors`, before the
greedy argmax, for temperature-0 requests too. Rows without "gumbel_key" (plain greedy) are left untouched.
Imported only when the vllm backend is chosen: it subclasses a vLLM class.
"""

from __future__ import annotations

from collections import defaultdict

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from computematch.sampling.streams import gumbel_noise

KEY, TEMPERATURE, TOP_P = "gumbel_key", "gumbel_temperature", "gumbel_top_p"


class GumbelNoiseProcessor(LogitsProcessor):
    @classmethod
    def validate_params(cls, params: SamplingParams):
        args = params.extra_args or {}
        if KEY not in args:
            return
        if params.temperature != 0.0:
            raise ValueError("gumbel_key needs temperature=0.0: the noise does the sampling "
                             "(the sampling temperature goes in extra_args['gumbel_temperature'])")
        if not float(args.get(TEMPERATURE, 1.0)) > 0:
            raise ValueError("gumbel_temperature must be > 0")
        if not 0 < float(args.get(TOP_P, 1.0)) <= 1:
            raise ValueError("gumbel_top_p must be in (0, 1]")

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self.device = device
        # persistent-batch row -> (key, temperature, top_p, live reference to the row's generated token ids)
        self.rows: dict[int, tuple[int, float, float, list[int]]] = {}

    def is_argmax_invariant(self) -> bool:
        return False  # it changes the argmax: that is the point

    @staticmethod
    def _new_state(params: SamplingParams, _prompt_ids, output_ids: list[int]):
        args = params.extra_args or {}
        if KEY not in args:
            return None
        return int(args[KEY]), float(args.get(TEMPERATURE, 1.0)), float(args.get(TOP_P, 1.0)), output_ids

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._new_state)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self.rows:
            return logits
        from transformers import TemperatureLogitsWarper, TopPLogitsWarper

        # Rows grouped by (temperature, top_p), then by step, so that every operation is the transformers
        # backend's own: scores / T, TopPLogitsWarper, gumbel_noise(keys, step, V) cast to the scores' dtype.
        groups: dict[tuple[float, float], list[int]] = defaultdict(list)
        for row, (_, temperature, top_p, _) in self.rows.items():
            groups[(temperature, top_p)].append(row)
        vocab = logits.shape[-1]
        for (temperature, top_p), rows in groups.items():
            index = torch.tensor(rows, dtype=torch.long, device=logits.device)
            scores = TemperatureLogitsWarper(temperature)(None, logits.index_select(0, index))
            if top_p < 1.0:
                scores = TopPLogitsWarper(top_p)(None, scores)
            by_step: dict[int, list[int]] = defaultdict(list)
            for position, row in enumerate(rows):
                by_step[len(self.rows[row][3])].append(position)
            for step, positions in by_step.items():
                keys = torch.tensor([self.rows[rows[p]][0] for p in positions], dtype=torch.int64,
                                    device=logits.device)
                where = torch.tensor(positions, dtype=torch.long, device=logits.device)
                scores[where] = scores[where] + gumbel_noise(keys, step, vocab).to(scores.dtype)
            logits[index] = scores
        return logits
