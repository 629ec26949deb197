"""The README's Python examples run as printed.

Every ```python block of README.md runs here, each in a fresh namespace, with a temporary folder as
the working directory and its output captured; a block that raises fails its test, and the traceback
points at the README's own line numbers. A block that cannot run in a test says so in an HTML comment
on the line right above its fence, which this file reads:

- ``<!-- not run by tests: <reason> -->``: skipped with that reason (it needs an API key, a GPU, the
  network or minutes of time); the names it imports from feedbackgym must still exist;
- ``<!-- tests need: <requirement>, ... -->``: skipped, with what is missing, unless every requirement is
  there: a module name (``stable_baselines3``) or ``model <name>`` (a catalogue model prepared with
  ``feedbackgym models prepare <name>``).

Any other comment there fails the test, so a mistyped rule cannot skip a block silently. Where a block's
comments state what it prints or makes, ``CLAIMS`` checks that too.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import re
import shlex
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
COMMENT = re.compile(r"<!--\s*(.*?)\s*-->")
NOT_RUN, NEEDS = "not run by tests:", "tests need:"


@dataclass(frozen=True)
class Example:
    line: int  # the line of the opening fence
    code: str
    rule: str | None  # the HTML comment right above the fence, without <!-- -->

    def compiled(self) -> Any:
        # blank lines first, so that a traceback's line numbers are the README's; a name that is not a
        # file, so that pytest prints the failing line rather than the README from its first line
        return compile("\n" * self.line + self.code, f"README.md (python block at line {self.line})", "exec")


def readme_examples() -> list[Example]:
    examples = []
    for match in FENCE.finditer(TEXT):
        before = TEXT[: match.start()].split("\n")
        above = before[-2].strip() if len(before) >= 2 else ""
        comment = COMMENT.fullmatch(above)
        examples.append(Example(len(before), match.group(1), comment.group(1) if comment else None))
    return examples


EXAMPLES = readme_examples()


def missing_requirements(rule: str) -> list[str]:
    """What a ``tests need:`` rule names that this installation lacks."""
    from feedbackgym.agents.hf.catalog import CATALOG, is_prepared

    missing = []
    for need in (part.strip() for part in rule.removeprefix(NEEDS).split(",")):
        if need.startswith("model "):
            name = need.removeprefix("model ").strip()
            assert name in CATALOG, f"rule {rule!r}: {name!r} is not a catalogue model ({', '.join(CATALOG)})"
            if not is_prepared(name):
                missing.append(f"the model {name} (feedbackgym models prepare {name})")
        else:
            assert need.isidentifier() or all(part.isidentifier() for part in need.split(".")), f"rule {rule!r}: {need!r} is not a module name"
            if importlib.util.find_spec(need) is None:
                missing.append(f"the module {need}")
    return missing


def reason_to_skip(example: Example) -> str | None:
    if example.rule is None:
        return None
    if example.rule.startswith(NOT_RUN):
        reason = example.rule.removeprefix(NOT_RUN).strip()
        assert reason, f"README.md:{example.line}: '{NOT_RUN}' needs a reason"
        return f"README.md:{example.line} is not run by tests: {reason}"
    if example.rule.startswith(NEEDS):
        missing = missing_requirements(example.rule)
        return f"README.md:{example.line} needs {', '.join(missing)}" if missing else None
    raise AssertionError(f"README.md:{example.line}: unknown rule <!-- {example.rule} --> above a python block; "
                         f"write '<!-- {NOT_RUN} <reason> -->' or '<!-- {NEEDS} <module or model name>, ... -->'")


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run_example(example: Example) -> tuple[dict[str, Any], str]:
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(example.compiled(), namespace)
    return namespace, output.getvalue()


# ------------------------------------------------------------------ what the blocks' comments claim
def check_step_by_hand(namespace: dict[str, Any], output: str) -> None:
    # print(env.unwrapped.episode_metrics)  # solved, cumulative_accuracy, feedback_resistance, ...
    metrics = namespace["env"].unwrapped.episode_metrics
    assert {"solved", "cumulative_accuracy", "feedback_resistance"} <= set(metrics)
    assert "[turn 1] solver_0" in output  # the rendered transcript


def check_wrappers(namespace: dict[str, Any], output: str) -> None:
    import feedbackgym
    from feedbackgym.wrappers import UnaryFeedback

    def feedback_seen(env: Any) -> set[str]:
        result = feedbackgym.rollout(env, {"solver_0": "friction_solver", "teacher_0": "scripted_teacher"}, seed=3)
        return {m["text"] for m in result.transcript if m["kind"] == "feedback" and m["sender"] == "teacher_0"}

    unary = UnaryFeedback(feedbackgym.make("SolverFeedback-v0", feedback_level="critique_with_answer"))
    assert feedback_seen(unary) == {"Incorrect. Please think again."}
    binary = feedback_seen(namespace["env"])
    assert binary and binary <= {"This is GOOD.", "This is BAD."}


def check_single_agent(namespace: dict[str, Any], output: str) -> None:
    from gymnasium.utils.env_checker import check_env

    check_env(namespace["gym_env"], skip_render_check=True)  # "It passes gymnasium.utils.env_checker.check_env."


def check_registry(namespace: dict[str, Any], output: str) -> None:
    assert "True {'max_turns': 3}" in output
    assert "No environment `SolverFeedbak-v0`. Did you mean `SolverFeedback-v0`" in output


def check_numeric_view(namespace: dict[str, Any], output: str) -> None:
    from gymnasium.utils.env_checker import check_env

    with warnings.catch_warnings():  # check_env would rather see the unwrapped env; the view is the point here
        warnings.filterwarnings("ignore", message=".*different from the unwrapped version")
        check_env(namespace["env"], skip_render_check=True)  # "NumericView passes check_env"


# a line of the block -> its check
CLAIMS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "print(env.unwrapped.episode_metrics)": check_step_by_hand,
    "env = UnaryFeedback(": check_wrappers,
    "gym_env = SingleAgent(": check_single_agent,
    'register("MySolver-v0"': check_registry,
    "env = make_numeric(": check_numeric_view,
}


def claims_of(example: Example) -> list[Callable[[dict[str, Any], str], None]]:
    return [check for line, check in CLAIMS.items() if line in example.code]


def test_the_readme_has_its_examples_and_every_claim_check_finds_its_block() -> None:
    assert len(EXAMPLES) >= 10
    for line in CLAIMS:
        assert sum(line in example.code for example in EXAMPLES) == 1, f"no single README block contains {line!r}"


def check_feedbackgym_imports(example: Example) -> None:
    """The names a block that is not run imports from feedbackgym exist, so a rename still fails here."""
    for node in ast.walk(ast.parse(example.code)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "feedbackgym":
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or importlib.util.find_spec(f"{node.module}.{alias.name}"), (
                    f"README.md:{example.line}: {node.module} has no {alias.name}"
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "feedbackgym":
                    importlib.import_module(alias.name)


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"README.md:{e.line}" for e in EXAMPLES])
def test_readme_example_runs(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None, restore_registries: None
) -> None:
    """Runs with the registries restored after it: an example's ``register(...)`` must not reach the other tests."""
    example.compiled()  # a syntax error fails even a block that is skipped
    reason = reason_to_skip(example)
    if reason is not None:
        if example.rule is not None and example.rule.startswith(NOT_RUN):
            check_feedbackgym_imports(example)
        pytest.skip(reason)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a model is never downloaded here
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    namespace, output = run_example(example)
    for check in claims_of(example):
        check(namespace, output)


def test_rules_above_blocks_are_read() -> None:
    """The rules themselves: a skip names its reason, a requirement that is there lets the block run."""
    assert reason_to_skip(Example(1, "", "not run by tests: needs an API key")) == "README.md:1 is not run by tests: needs an API key"
    assert reason_to_skip(Example(1, "", "tests need: json")) is None
    assert reason_to_skip(Example(1, "", "tests need: json, no_such_module_here")) == "README.md:1 needs the module no_such_module_here"
    with pytest.raises(AssertionError, match="unknown rule"):
        reason_to_skip(Example(1, "", "skip me"))
    with pytest.raises(AssertionError, match="needs a reason"):
        reason_to_skip(Example(1, "", "not run by tests:"))


# ------------------------------------------------------------------ `feedbackgym train` lines
def compose_train(*overrides: str) -> Any:
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="feedbackgym.conf.train", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def readme_train_commands() -> list[list[str]]:
    """Every ``feedbackgym train ...`` line of the README's bash blocks, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", TEXT, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("feedbackgym train"):
                commands.append(shlex.split(line.split(" #")[0])[2:])
    return commands


@pytest.mark.parametrize("words", readme_train_commands(), ids=lambda words: " ".join(words)[:60] or "(no overrides)")
def test_each_readme_train_command_composes_and_passes_the_checks(words: list[str]) -> None:
    from feedbackgym.experiments.train import _plain

    plain = _plain(compose_train(*words))
    if plain.get("lm") is not None:
        from feedbackgym.experiments.lm_train import check_lm_config

        assert check_lm_config(plain)["runs"]


def test_lm_overlays_take_every_trainer_knob_from_one_file() -> None:
    """``conf/train/lm/defaults.yaml`` is ``Args`` at its defaults (less what ``train.*`` sets), and every
    lm overlay starts from it, so ``lm.lora=true``, ``lm.top_p=0.9``, ... work on each."""
    from dataclasses import fields

    from omegaconf import OmegaConf

    from feedbackgym.experiments.lm_train import Args

    defaults = OmegaConf.to_container(OmegaConf.load(README.parent / "conf" / "train" / "lm" / "defaults.yaml"))
    assert defaults == {f.name: f.default for f in fields(Args) if f.name not in ("seed", "eval_episodes", "eval_seed")}
    for overlay in sorted(p.stem for p in (README.parent / "conf" / "train" / "training").glob("lm_*.yaml")):
        cfg = compose_train(f"training={overlay}", "lm.lora=true", "lm.top_p=0.9", "lm.share_policy=false")
        assert set(defaults) <= set(cfg.lm) and cfg.lm.lora is True and cfg.lm.top_p == 0.9
