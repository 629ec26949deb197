"""docs/extending.md runs as printed: its module, its configs, its examples and its command line.

The page's fenced blocks, in order: a ```python block whose first line is ``# higher_lower.py`` is a part
of that module (written to a temporary folder and imported from there, so its classes pickle); a
```yaml block with a leading comment line ``# <path>`` is written to that path; the other ```python blocks run
one after another in one namespace; the ```bash block's ``feedbackgym run`` line runs as a process.
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
COMMANDS = [line for b in BLOCKS if b.language == "bash" for line in b.code.splitlines() if "feedbackgym run" in line]


@contextlib.contextmanager
def registries_restored() -> Iterator[None]:
    """The registries and the imported module as they were: the page's registrations stay in its test."""
    from feedbackgym.agents.registration import agent_registry
    from feedbackgym.envs.registration import registry, wrapper_registry

    envs = dict(registry)
    named = [(r, dict(r._entries), dict(r._aliases)) for r in (agent_registry, wrapper_registry)]
    try:
        yield
    finally:
        sys.modules.pop(MODULE, None)
        registry.clear()
        registry.update(envs)
        for r, entries, aliases in named:
            r._entries.clear()
            r._entries.update(entries)
            r._aliases.clear()
            r._aliases.update(aliases)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with the page's module and configs, importable and the working directory."""
    (tmp_path / f"{MODULE}.py").write_text("\n".join(b.code for b in MODULE_PARTS), encoding="utf-8")
    for block in CONFIGS:
        assert block.file, f"docs/extending.md:{block.line}: a YAML block names its file in a leading '# <path>' line"
        target = tmp_path / block.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(block.code, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    with registries_restored():
        yield tmp_path


def run_examples() -> tuple[dict[str, Any], list[str]]:
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    outputs = []
    for block in EXAMPLES:
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile("\n" * block.line + block.code, f"docs/extending.md (block at line {block.line})", "exec"), namespace)
        outputs.append(output.getvalue())
    return namespace, outputs


def test_the_page_has_its_parts() -> None:
    assert len(MODULE_PARTS) == 3 and len(EXAMPLES) == 3 and len(CONFIGS) == 4 and len(COMMANDS) == 1


def test_the_page_runs_and_does_what_it_says(project: Path) -> None:
    import torch

    torch.set_num_threads(1)
    namespace, (checked, played, numeric) = run_examples()
    import higher_lower

    assert higher_lower.__file__ == str(project / "higher_lower.py")  # the module the page wrote, not a stray one
    # section 3: seven replies it could not read (one an impostor's line), then the guess 50
    assert checked.splitlines()[-3:] == [
        "{'guesser_0': 7, 'hinter_0': 0}", "{'guesser_0': 1, 'hinter_0': 0}", "hinter_0 [50]"
    ]
    # section 5: the hints find every number in 7 guesses; verdicts alone rarely do
    rates = dict(re.findall(r"^(HigherLower-\S+) solved (\S+)$", played, re.M))
    assert float(rates["HigherLower-v0"]) == 1.0 and float(rates["HigherLower-Verdict-v0"]) < 0.2
    # section 7: the middle of the range left is bisection, which never misses
    assert "Discrete(100)" in numeric and numeric.strip().endswith("solved 1.0")


def test_what_the_page_builds_is_well_kept(project: Path) -> None:
    """The checklist at the end of the page holds for its own game: seeds, hostile replies, copies, errors."""
    import feedbackgym
    from feedbackgym.envs.core.checks import ArgumentError

    run_examples()
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


def test_the_command_line_runs_the_experiment(project: Path) -> None:
    (command,) = COMMANDS
    words = shlex.split(command)
    assert words[0] == "PYTHONPATH=." and words[1] == "feedbackgym"
    executable = Path(sys.executable).with_name("feedbackgym")
    environment = {**os.environ, "PYTHONPATH": str(project)}
    arguments = [str(executable), *words[2:]]
    arguments = [a for a in arguments if not a.startswith("run.episodes=")] + ["run.episodes=30", "run.progress=false"]
    finished = subprocess.run(arguments, cwd=project, env=environment, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-3000:]
    rows = {line.split()[0]: line.split() for line in finished.stdout.splitlines() if line.split()[:1] in (["hints"], ["binary"], ["unary"])}
    assert set(rows) == {"hints", "binary", "unary"}
    assert float(rows["hints"][2]) == 1.0 and float(rows["binary"][2]) < 0.3 and float(rows["unary"][2]) < 0.3
    output = project / "outputs" / "hint_ladder"
    assert {"results.csv", "episodes.jsonl", "report.html"} <= {p.name for p in output.iterdir()}
