"""docs/extending.md runs as printed: its module, its configs, its examples and its command line.

The page's fenced blocks, in order: a ```python block whose first line is ``# higher_lower.py`` is a part
of that module (written to a temporary folder and imported from there, so its classes pickle); a
```yaml block with a leading comment line ``# <path>`` is written to that path; the other ```python blocks run
one after another in one namespace; the ```bash blocks' ``feedbackgym`` lines run as processes (with
fewer episodes and training steps).
What the page says they print is checked.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import pickle
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "extending.md"
TEXT = PAGE.read_text(encoding="utf-8")
FENCE = re.compile(r"^```(python|yaml|bash)\n(.*?)^```", re.S | re.M)
MODULE = "higher_lower"


@dataclass(frozen=True)
class Block:
    language: str
    line: int
    code: str

    @property
    def file(self) -> str | None:
        """The path named by one of the block's leading comment lines (``# conf/env/x.yaml``)."""
        for line in self.code.splitlines():
            if not line.startswith("#"):
                return None
            if line.startswith("# ") and line.endswith((".py", ".yaml")) and " " not in line[2:]:
                return line[2:]
        return None


BLOCKS = [Block(m.group(1), TEXT[: m.start()].count("\n") + 1, m.group(2)) for m in FENCE.finditer(TEXT)]
MODULE_PARTS = [b for b in BLOCKS if b.language == "python" and b.file == f"{MODULE}.py"]
CONFIGS = [b for b in BLOCKS if b.language == "yaml"]
EXAMPLES = [b for b in BLOCKS if b.language == "python" and b.file is None]
COMMANDS = [line for b in BLOCKS if b.language == "bash" for line in b.code.splitlines() if " feedbackgym " in line]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_registries: None) -> Iterator[Path]:
    """A folder with the page's module and configs, importable and the working directory; the module and
    what it registers are gone after the test."""
    (tmp_path / f"{MODULE}.py").write_text("\n".join(b.code for b in MODULE_PARTS), encoding="utf-8")
    for block in CONFIGS:
        assert block.file, f"docs/extending.md:{block.line}: a YAML block names its file in a leading '# <path>' line"
        target = tmp_path / block.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.modules.pop(MODULE, None)


def run_examples(blocks: list[Block]) -> list[str]:
    """Run ``blocks`` in order in one namespace; what each printed."""
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    outputs = []
    for block in blocks:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile("\n" * block.line + block.code, f"docs/extending.md (block at line {block.line})", "exec"), namespace)
        outputs.append(output.getvalue())
    return outputs


def run_command(line: str, project: Path, quicker: list[str]) -> str:
    """A ``PYTHONPATH=. [VAR=value ...] feedbackgym ...`` line of the page, with ``quicker`` overrides added."""
    words = shlex.split(line)
    environment = {**os.environ, "PYTHONPATH": str(project)}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        environment[name] = str(project) if name == "PYTHONPATH" else value
    assert words[0] == "feedbackgym", line
    executable = Path(sys.executable).with_name("feedbackgym")
    keys = {item.split("=", 1)[0] for item in quicker}
    arguments = [str(executable), *(w for w in words[1:] if w.split("=", 1)[0] not in keys), *quicker]
    finished = subprocess.run(arguments, cwd=project, env=environment, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, f"{line}\n{finished.stdout[-2000:]}\n{finished.stderr[-3000:]}"
    return finished.stdout


def table_rows(output: str, names: set[str]) -> dict[str, list[str]]:
    return {line.split()[0]: line.split() for line in output.splitlines() if line.split()[:1] and line.split()[0] in names}


def test_the_page_has_its_parts() -> None:
    assert len(MODULE_PARTS) == 4 and len(EXAMPLES) == 4 and len(CONFIGS) == 5
    assert [line.split(" feedbackgym ")[1].split()[0] for line in COMMANDS] == ["run", "train"]


def test_the_page_runs_as_printed_and_does_what_it_says(project: Path) -> None:
    import torch

    torch.set_num_threads(1)
    run_line, train_line = COMMANDS
    # section 6: the hints find every number in 7 guesses; a verdict or a unary "try again" rarely does
    rows = table_rows(run_command(run_line, project, ["run.episodes=30", "run.progress=false"]), {"hints", "binary", "unary"})
    assert set(rows) == {"hints", "binary", "unary"}
    assert float(rows["hints"][2]) == 1.0 and float(rows["binary"][2]) < 0.3 and float(rows["unary"][2]) < 0.3
    assert {"results.csv", "episodes.jsonl", "report.html"} <= {p.name for p in (project / "outputs" / "hint_ladder").iterdir()}
    # section 8, tiny: the baseline bisects (4 guesses cover 15 numbers); the policy is saved and loads as an agent
    # two seeds on two worker processes: each imports the plugin again (spawned workers start without it)
    quick = ["ppo.total_timesteps=512", "ppo.num_envs=2", "ppo.num_steps=32", "train.eval_episodes=20", "train.report=false",
             "train.workers=2", "train.seeds=[1,2]"]
    rows = table_rows(run_command(train_line, project, quick), {"ppo_guesser", "bisecting_guesser"})
    assert float(rows["bisecting_guesser"][2]) == 1.0 and 0.0 <= float(rows["ppo_guesser"][2]) <= 1.0
    checked, played, numeric, loaded = run_examples(EXAMPLES)
    import higher_lower

    assert higher_lower.__file__ == str(project / "higher_lower.py")  # the module the page wrote, not a stray one
    # section 3: seven replies it could not read (one an impostor's line), then the guess 50
    assert checked.splitlines()[-3:] == [
        "{'guesser_0': 7, 'hinter_0': 0}", "{'guesser_0': 1, 'hinter_0': 0}", "hinter_0 [50]"
    ]
    # section 5: the same as the command line, in Python
    rates = dict(re.findall(r"^(HigherLower-\S+) solved (\S+)$", played, re.M))
    assert float(rates["HigherLower-v0"]) == 1.0 and float(rates["HigherLower-Verdict-v0"]) < 0.2
    # section 7: the default encoder is the registered one, and the middle of the range left never misses
    assert "'range': Box(0.0, 1.0, (2,), float32)) Discrete(100)" in numeric and numeric.strip().endswith("solved 1.0")
    # section 8: the trained policy played an episode through the runner
    guesses, texts = loaded.strip().split(" ", 1)
    assert 1 <= int(guesses) <= 4 and all(text.isdigit() and 1 <= int(text) <= 15 for text in eval(texts))


def test_what_the_page_builds_is_well_kept(project: Path) -> None:
    """The checklist at the end of the page holds for its own game: seeds, copies, errors, roles, encoders."""
    import feedbackgym
    import higher_lower
    from feedbackgym.envs.core.checks import ArgumentError
    from feedbackgym.wrappers.encoding import make_encoder, register_encoder

    cast = {"guesser_0": "bisecting_guesser", "hinter_0": "truthful_hinter"}
    first = [feedbackgym.rollout("HigherLower-Verdict-v0", cast, seed=seed).transcript for seed in range(5)]
    assert first == [feedbackgym.rollout("HigherLower-Verdict-v0", cast, seed=seed).transcript for seed in range(5)]
    env = feedbackgym.make("HigherLower-v0")
    env.reset(seed=3)
    env.step("50")
    for twin in (pickle.loads(pickle.dumps(env)), copy.deepcopy(env)):
        assert twin.unwrapped.secret == env.unwrapped.secret and twin.unwrapped.guesses == [50]
    with pytest.raises(ArgumentError, match="upper"):
        feedbackgym.make("HigherLower-v0", upper=1)
    with pytest.raises(Exception, match="plays HigherLower hinter, not .guesser_0."):
        feedbackgym.rollout("HigherLower-v0", {"guesser_0": "truthful_hinter", "hinter_0": "truthful_hinter"}, seed=0)
    # the encoder rebuilds from its config, and registering its kind twice for another class is refused
    encoder = make_encoder({"kind": "guesser", "upper": 15})
    assert type(encoder) is higher_lower.GuesserEncoder and make_encoder(encoder.config()).config() == encoder.config()
    with pytest.raises(ValueError, match="already GuesserEncoder"):
        register_encoder(type("Impostor", (higher_lower.GuesserEncoder,), {}))
