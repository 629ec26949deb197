"""Loading causal language models once per process: by catalogue name, local folder, GGUF file or hub id.

Models are cached per (model, device, dtype): every ``hf`` agent that names the same model shares
one copy in memory and one generation queue (so their turns can be batched together).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from feedbackgym.agents.hf.catalog import resolve_short_name

DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass
class LoadedModel:
    """A model, its tokenizer, and the queue that batches generations on it."""

    name: str
    model: Any
    tokenizer: Any
    device: torch.device
    dtype: torch.dtype
    queue: Any = None  # the GenerationQueue, made by the first agent that generates

    @property
    def pad_id(self) -> int:
        tokenizer = self.tokenizer
        for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id, 0):
            if candidate is not None:
                return int(candidate)
        return 0  # pragma: no cover

    def stop_ids(self) -> frozenset[int]:
        """The end tokens: the tokenizer's eos and those of the model's generation config."""
        ids: set[int] = set()
        for source in (self.tokenizer.eos_token_id, getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        return frozenset(ids)


_CACHE: dict[tuple[Any, ...], LoadedModel] = {}
_LOCK = threading.Lock()


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda") or device == "mps"):
        raise ValueError(f"device must be one of auto, cpu, cuda, cuda:<index>, mps; got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device (torch {torch.__version__}); use device=cpu or auto")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
    if dtype == "auto":
        # Half precision on CPU is slow and inexact: float32 there, bfloat16 on an accelerator.
        return torch.float32 if device.type == "cpu" else torch.bfloat16
    return getattr(torch, dtype)


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise ImportError("the hf agent needs the hf extra: pip install 'feedbackgym[hf]' (transformers, accelerate, gguf, safetensors)") from error
    return transformers


def load_model(
    model: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    gguf_file: str | None = None,
    revision: str | None = None,
    home: str | Path | None = None,
) -> LoadedModel:
    """The model ``model`` on ``device`` in ``dtype``, loaded on first use and shared afterwards.

    ``model`` is a catalogue name (``smollm2-135m``, after ``feedbackgym models prepare``), a local
    folder, a ``.gguf`` file, or a Hugging Face hub id (downloaded by transformers as usual: only
    when you name one).
    """
    if not isinstance(model, str) or not model.strip():
        raise ValueError(f"model must be a catalogue name, a folder, a .gguf file or a hub id; got {model!r}")
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    source: str = model
    prepared = resolve_short_name(model, home)
    if prepared is not None:
        source = str(prepared)
    elif model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"model={model!r}: no such GGUF file")
        source, gguf_file = str(path.parent), path.name
    key = (source, gguf_file, revision, str(torch_device), str(torch_dtype))
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        transformers = _transformers()
        options: dict[str, Any] = {"dtype": torch_dtype}
        if gguf_file:
            options["gguf_file"] = gguf_file
        if revision:
            options["revision"] = revision
        network = transformers.AutoModelForCausalLM.from_pretrained(source, **options)
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, **{k: v for k, v in options.items() if k != "dtype"})
        network.to(torch_device)
        network.eval()
        loaded = LoadedModel(name=model, model=network, tokenizer=tokenizer, device=torch_device, dtype=torch_dtype)
        _CACHE[key] = loaded
        return loaded


def wrap_model(model: Any, tokenizer: Any, name: str | None = None) -> LoadedModel:
    """A model object already in memory (a test's tiny model, a trainer's policy), shared by identity."""
    key = ("object", id(model), id(tokenizer))
    with _LOCK:
        if key not in _CACHE:
            parameter = next(model.parameters())
            _CACHE[key] = LoadedModel(
                name=name or getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__,
                model=model,
                tokenizer=tokenizer,
                device=parameter.device,
                dtype=parameter.dtype,
            )
        return _CACHE[key]


def clear_cache() -> None:
    """Forget every loaded model (they are freed once no agent holds them)."""
    with _LOCK:
        _CACHE.clear()
