"""Parameter counts without weights, and base models loaded from a local directory (the hub path's offline twin)."""

import json

import pytest

from computematch.config import ConfigError, ModelSpec
from computematch.models import count_parameters, count_parameters_from_config, resolve_source, resolve_weights


def test_parameter_counts_come_from_the_config_without_weights():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, tie_word_embeddings=False)
    counts = count_parameters_from_config(config)
    assert counts == count_parameters(LlamaForCausalLM(config))
    assert counts["embedding"] == 2 * 1000 * 64  # input embeddings and an untied LM head
    layer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64
    assert counts["non_embedding"] == 2 * layer + 64  # plus the final norm
    tied = count_parameters_from_config(LlamaConfig(**{**config.to_dict(), "tie_word_embeddings": True}))
    assert tied["embedding"] == 1000 * 64 and tied["non_embedding"] == counts["non_embedding"]


def test_gemma2_sized_configs_give_the_papers_ratio():
    from transformers import Gemma2Config

    # Published Gemma2 9B / 27B shapes (config.json on the hub); no weights are allocated.
    nine = Gemma2Config(vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                        num_attention_heads=16, num_key_value_heads=8, head_dim=256)
    big = Gemma2Config(vocab_size=256000, hidden_size=4608, intermediate_size=36864, num_hidden_layers=46,
                       num_attention_heads=32, num_key_value_heads=16, head_dim=128)
    small, large = count_parameters_from_config(nine), count_parameters_from_config(big)
    assert 9.0e9 < small["total"] < 9.5e9 and 27.0e9 < large["total"] < 27.5e9
    assert 2.9 < large["total"] / small["total"] < 3.2


def test_a_local_model_directory_resolves_and_a_missing_one_is_a_named_error(tiny_model_dir, tmp_path):
    assert resolve_source(ModelSpec(role="wc", load=str(tiny_model_dir))) == tiny_model_dir
    with pytest.raises(ConfigError, match=r"^models.se.load: directory ./nowhere does not exist"):
        resolve_source(ModelSpec(role="se", load="./nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_source(ModelSpec(role="se", load=str(tmp_path / "empty")))


def test_a_loaded_base_model_points_at_its_weights(tiny_model_dir, tmp_path):
    from computematch.models import load_model

    base = tmp_path / "base"
    base.mkdir()
    (base / "card.json").write_text(json.dumps({"weights_dir": str(tiny_model_dir), "gguf_file": None}))
    assert resolve_weights(base) == (tiny_model_dir, None)
    model, tokenizer = load_model(base)
    assert model.config.hidden_size == 16 and tokenizer.padding_side == "left"
