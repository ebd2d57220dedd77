"""Base models: the built-in tokenizer and Llama configuration, parameter counts, resolving a hub id or local
directory, loading a model, and cards. Pretraining from scratch is pretraining.py.

    from computematch.models import load_card
    load_card("models/base/wc")["parameters"]  # {'total': ..., 'non_embedding': ..., 'embedding': ...}

Every base model ends up as a directory that `AutoModelForCausalLM.from_pretrained` and
`AutoTokenizer.from_pretrained` load, with a `card.json` beside the weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from computematch.errors import ConfigError

from computematch.config import ModelSpec
from computematch.errors import MissingInputError

CARD_FILE = "card.json"
SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>"}
# Defaults for a from-scratch Llama that the params may override (tied embeddings as in the prototype).
TINY_LLAMA_DEFAULTS = {"max_position_embeddings": 256, "tie_word_embeddings": True}
PARAM_COUNT_NOTE = (
    "FLOPs per generated token = 2 * P (Kaplan et al. 2020, Sec. 2.1). Kaplan's P excludes vocabulary and "
    "position embeddings: an embedding lookup is not a matrix multiply. budget.param_count picks which "
    "count is P (default non_embedding)."
)


# ---------------------------------------------------------------- tokenizer


# One token per run of up to three digits, one per other character: Llama 3's tokenizer also splits numbers
# into groups of at most three digits. A number is then one token, so `17+8=25` is a lookup of three tokens
# rather than digit-by-digit carrying, which tiny models do not learn in minutes (docs/calibration.md).
TOKEN_PATTERN = r"\d{1,3}|[\s\S]"


def build_task_tokenizer(text: str):
    """A tokenizer over `text`'s pieces (numbers of up to 3 digits, single characters), plus pad/bos/eos/unk."""
    import re

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIAL_TOKENS.values())
    pieces = sorted(set(re.findall(TOKEN_PATTERN, text)))
    vocab = {token: index for index, token in enumerate(specials + pieces)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def task_tokenizer(task, splits: dict) -> "PreTrainedTokenizerFast":  # noqa: F821
    """The built-in tokenizer over every piece the splits' prompts and gold solutions use."""
    texts = []
    for split in ("corpus", "train", "val", "test"):
        problems = splits.get(split, [])
        texts += [task.prompt(p) for p in problems] + [p.solution for p in problems]
    return build_task_tokenizer("\n".join(texts))


# ---------------------------------------------------------------- parameter counts


def count_parameters(model) -> dict[str, int]:
    """Total and non-embedding parameter counts; tied weights are counted once."""
    seen, total = set(), 0
    for parameter in model.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    embedding, counted = 0, set()
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None and id(module.weight) not in counted:  # a tied LM head is the same tensor
            counted.add(id(module.weight))
            embedding += module.weight.numel()
    return {"total": total, "non_embedding": total - embedding, "embedding": embedding}


def count_parameters_from_config(config) -> dict[str, int]:
    """Parameter counts of an architecture without allocating its weights (meta device)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return count_parameters(model)


# ---------------------------------------------------------------- a from-scratch Llama's configuration


def llama_config(fields: dict, tokenizer, key: str = "pretrain"):
    """LlamaConfig from params fields; unknown field names are an error naming the field."""
    from transformers import LlamaConfig

    from computematch.library_fields import check_llama_fields

    check_llama_fields(fields, key)
    return LlamaConfig(
        **{**TINY_LLAMA_DEFAULTS, **fields},
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def resolve_loaded(spec: ModelSpec) -> dict:
    """The card's facts for a `load` spec. The weights stay where they are (a hub snapshot or the given
    directory): the card points at them, so a 27B checkpoint is neither copied nor hashed into the DVC cache.
    A GGUF checkpoint is de-quantized once into a safetensors folder (convert_gguf) and the card points there,
    saying where it came from."""
    from transformers import AutoConfig

    source, converted_from = resolve_source(spec).resolve(), None
    if spec.gguf_file is not None:
        converted_from = {"dir": str(source), "gguf_file": spec.gguf_file,
                          "sha256": file_content_digest(source / spec.gguf_file)}
        source = convert_gguf(source, spec.gguf_file, converted_from["sha256"])
    config = AutoConfig.from_pretrained(source)
    return {"source": "load", "load": spec.load, "revision": spec.revision, "weights_dir": str(source),
            "gguf_file": None, **({"converted_from": converted_from} if converted_from else {}),
            "architecture": config.architectures, "parameters": count_parameters_from_config(config)}


def converted_cache() -> Path:
    """Where de-quantized GGUF checkpoints are kept: the user's cache, as Hugging Face keeps hub downloads."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "computematch" / "converted"


def convert_gguf(directory: Path, gguf_file: str, digest: str) -> Path:
    """The GGUF checkpoint `directory/gguf_file` as a float32 safetensors folder with its tokenizer, converted once
    and kept by the file's digest. Every stage then reads plain weights: TRL cannot save a model loaded from GGUF
    (transformers keeps it marked quantized), vLLM's CPU build does not read GGUF, and de-quantizing costs seconds
    at every load."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from computematch.io import replace_dir, staging_dir

    target = converted_cache() / f"{Path(gguf_file).stem}-{digest[:16]}"
    if (target / "config.json").exists():
        return target
    loaded = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the de-quantized weights are plain float32
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(loaded.state_dict())
    with staging_dir(target) as staging:
        plain.save_pretrained(staging)
        AutoTokenizer.from_pretrained(directory, gguf_file=gguf_file).save_pretrained(staging)
        (staging / "converted_from.json").write_text(json.dumps({"dir": str(directory), "gguf_file": gguf_file,
                                                                 "sha256": digest}, indent=2) + "\n")
        replace_dir(staging, target)
    return target


# ---------------------------------------------------------------- loading existing models


def resolve_source(spec: ModelSpec) -> Path:
    """A local directory holding the model: the given directory, or a hub snapshot (downloaded when online)."""
    local = Path(spec.load).expanduser()
    if local.exists():
        if spec.gguf_file is not None:
            if not (local / spec.gguf_file).is_file():
                raise ConfigError(f"models.{spec.role}.gguf_file: {local / spec.gguf_file} does not exist")
            return local
        if not (local / "config.json").exists():
            raise ConfigError(f"models.{spec.role}.load: {local} has no config.json (not a transformers model directory)")
        return local
    if spec.load.startswith((".", "/", "~")) or spec.load.count("/") > 1:
        raise ConfigError(f"models.{spec.role}.load: directory {spec.load} does not exist")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.load, revision=spec.revision))
    except Exception as error:  # offline, unknown repo, gated model...
        raise ConfigError(
            f"models.{spec.role}.load: {spec.load!r} is not a local directory and could not be fetched from the hub "
            f"({type(error).__name__}; offline machines need a local directory)"
        ) from None


FULL_HASH_LIMIT = 2 << 30  # bytes; above this, names and sizes stand in for contents (hashing 50 GB takes minutes)


def file_content_digest(path: Path) -> str:
    """sha256 of a file's contents, or of its name and size above FULL_HASH_LIMIT."""
    path = Path(path)
    if path.stat().st_size > FULL_HASH_LIMIT:
        return hashlib.sha256(f"{path.name}:{path.stat().st_size}".encode()).hexdigest()
    return _hash_contents(hashlib.sha256(), path).hexdigest()


def _hash_contents(digest, path: Path):
    """`digest` updated with a file's bytes, read in 1 MiB blocks (checkpoints can be many GB)."""
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest


def weights_digest(model_dir: Path) -> str:
    """sha256 over the weight files: identifies the exact model that drew a sample.

    Checkpoints over 2 GiB are fingerprinted by file names, sizes and config.json instead of contents.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in Path(model_dir).iterdir() if p.suffix in {".safetensors", ".bin", ".gguf"})
    full = sum(p.stat().st_size for p in files) <= FULL_HASH_LIMIT
    for path in files:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
        if full:
            _hash_contents(digest, path)
    if not full and (Path(model_dir) / "config.json").exists():
        digest.update((Path(model_dir) / "config.json").read_bytes())
    return digest.hexdigest()


def model_digest(model_dir: str | Path) -> str:
    """sha256 over what decides a model's outputs: its weights (weights_digest) and the small files beside them
    (configuration, tokenizer, chat template), not its card: the same model restored or retrained has one digest."""
    weights, _ = resolve_weights(model_dir)
    digest = hashlib.sha256(weights_digest(weights).encode())
    for path in sorted(p for p in weights.iterdir() if p.is_file() and p.name != CARD_FILE
                       and p.suffix in {".json", ".txt", ".jinja", ".model"}):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def resolve_weights(model_dir: str | Path) -> tuple[Path, str | None]:
    """(directory holding the weights, GGUF file or None): a base model of a `load` spec points elsewhere."""
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILE
    if card_path.exists():
        card = json.loads(card_path.read_text())
        if card.get("weights_dir"):
            return Path(card["weights_dir"]), card.get("gguf_file")
    return model_dir, None


def load_model(model_dir: str | Path, device: str = "cpu", dtype: str = "auto"):
    """(model, tokenizer) ready for generation: eval mode, left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    weights, gguf_file = resolve_weights(model_dir)
    if not (weights / "config.json").exists() and gguf_file is None:
        raise MissingInputError(f"{model_dir}: not a model directory (run `dvc repro bootstrap` first)")
    tokenizer = AutoTokenizer.from_pretrained(weights, gguf_file=gguf_file)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch_dtype, gguf_file=gguf_file).to(device)
    model.eval()
    return model, tokenizer


def write_card(model_dir: Path, card: dict) -> None:
    (Path(model_dir) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")


def load_card(model_dir: str | Path) -> dict:
    path = Path(model_dir) / CARD_FILE
    if not path.exists():
        raise MissingInputError(f"{path}: missing model card (run `dvc repro bootstrap` first)")
    return json.loads(path.read_text())
