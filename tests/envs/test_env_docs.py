"""Every environment's documentation page (its class docstring) says what the environment does.

The pages follow a light convention that this file parses (see any page, e.g. ``SolverFeedbackEnv``):

- ``## Agents``: a table whose rows start with the agent ids in backticks (``peer_0`` .. ``peer_{n-1}``
  stands for a numbered role).
- ``## Observation Space``: a table ``| key | range | meaning |``; a numeric field's range is
  ``[low, high]`` in backticks, written with the constructor's arguments (``[0, max_turns]``).
- ``## Info``: a list, one line per key: ``- `key`: ...``; ``- `key` (`solver_0`): ...`` when only
  those agents get it.
- ``## Metrics``: a list, one line per metric of ``info["episode"]``: ``- `name`: ...``.
- ``## Arguments``: a table ``| argument | default | meaning |``; the first cell names one or more
  arguments, the second holds their defaults in backticks, in the same order.
- ``## Variants``: one line per registered id of the class: ``- `Id-v0`: `knob=value`, ...`` and,
  when the id adds wrappers, ``wrapped in `name` `` or ``wrapped in `name(key=value)` ``.

Each page is checked against the code (signatures, defaults, allowed values from the argument
checks, ``numeric_fields``, ``possible_agents``, the registry) and against episodes played by the
scripted cast over a few seeds and many non-default settings (this file's and the golden file's), so a knob, field, info key or metric added
or removed without its page fails here.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import re
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import feedbackgym
from feedbackgym.agents.scripted.casts import scripted_cast
from feedbackgym.envs import registry
from feedbackgym.envs.core.base import TurnBasedTextEnv
from feedbackgym.envs.core.checks import ArgumentError
from feedbackgym.envs.core.registry import load_entry_point
from feedbackgym.envs.core.seeding import agent_seed

SEEDS = (0, 1, 2, 3)

# The golden file's non-default settings of every family (other tasks, levels, modes, workflows, wrappers).
_golden_spec = importlib.util.spec_from_file_location("feedbackgym_golden_settings", Path(__file__).with_name("golden.py"))
_golden = importlib.util.module_from_spec(_golden_spec)
_golden_spec.loader.exec_module(_golden)
BROAD_SETTINGS = _golden.broad_configurations()

# Non-default settings per family, beyond its registered ids: together they reach every info key
# and metric the pages list (expose_latent off, the other workflows, modes and protocols).
EXTRA_SETTINGS: dict[str, list[tuple[str, dict[str, Any], list[Any]]]] = {
    "SolverFeedbackEnv": [
        ("SolverFeedback-v0", {"feedback_level": "none", "expose_latent": False, "max_turns": 3}, []),
        ("SolverFeedback-v0", {"task": "knowledge_mcq", "feedback_level": "critique_with_solution", "reward_scheme": "discount"}, []),
    ],
    "CriticEnv": [
        ("Critic-v0", {"refine": False, "reward_scheme": "stage1", "expose_latent": False}, []),
        ("Critic-v0", {"task": "knowledge_mcq", "reward_scheme": "refcritic", "rf_mode": "r_delta"}, []),
    ],
    "DeceptiveJudgeEnv": [
        ("DeceptiveJudge-v0", {"judge_intent": "constructive", "judge_knowledge": "grounded", "intervention": "always",
                               "expose_latent": False, "n_rounds": 2}, []),
        ("DeceptiveJudge-v0", {"workflow": "round_table", "n_peers": 1, "task": "arithmetic", "ask_ambiguity": True}, []),
    ],
    "JudgeProtocolEnv": [
        ("JudgeProtocol-v0", {"protocol": "pointwise", "position_swap": "both", "expose_latent": False}, []),
        ("JudgeProtocol-v0", {"position_swap": "both"}, ["distractor"]),
    ],
    "NegotiationEnv": [
        ("Negotiation-v0", {"n_games": 2, "feedback_source": "none", "who_first": "buyer", "fixed_openings": False}, []),
        ("Negotiation-v0", {"n_games": 2, "feedback_source": "constant", "critic_history": "last", "price_range": (5.0, 30.0)}, []),
    ],
    "SimulatedUserEnv": [
        ("SimulatedUser-v0", {"with_gt": True, "expose_latent": False, "max_turns": 3, "feedback_form": "binary"}, []),
        ("SimulatedUser-MINT-v0", {"expose_latent": False, "with_gt": True}, []),
    ],
}

# Names a page's ranges use that are not attributes of the environment (kept equal to the code by this test).
RANGE_NAMES: dict[str, Callable[[Any], dict[str, float]]] = {
    "NegotiationEnv": lambda env: {"price_max": max(env.price_range[1], env.buyer_value, env.seller_init, env.cost_price)},
}

BASE_KNOBS = set(inspect.signature(TurnBasedTextEnv).parameters)


# ------------------------------------------------------------------------------------ parsing
def _classes() -> dict[str, type]:
    found: dict[str, type] = {}
    for env_spec in registry.values():
        cls = load_entry_point(env_spec.entry_point)
        found.setdefault(cls.__name__, cls)
    return found


CLASSES = _classes()


def sections(cls: type) -> dict[str, list[str]]:
    """The page's ``## Title`` sections, each as its lines (titles without a trailing parenthesis)."""
    doc = inspect.getdoc(cls) or ""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in doc.splitlines():
        if line.startswith("## "):
            title = re.sub(r"\s*\(.*\)$", "", line[3:]).strip()
            current = found.setdefault(title, [])
        elif current is not None:
            current.append(line)
    return found


def section(cls: type, title: str) -> list[str]:
    found = sections(cls)
    assert title in found, f"{cls.__name__}'s page has no '## {title}' section (has: {', '.join(found)})"
    return found[title]


def table_rows(lines: list[str]) -> list[list[str]]:
    """The rows of the markdown tables in ``lines`` whose first cell starts with a backtick."""
    rows = []
    for line in lines:
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if cells and cells[0].startswith("`"):
            rows.append(cells)
    return rows


def ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def list_items(lines: list[str]) -> dict[str, str]:
    """``- `a`, `b` (...): text`` lines: each name with the rest of its line."""
    items = {}
    for line in lines:
        match = re.match(r"^- ((?:`[\w.]+`(?:, | and )?)+)(.*)$", line.strip())
        if match:
            for name in ticked(match.group(1)):
                assert name not in items, f"`{name}` is listed twice"
                items[name] = match.group(2)
    return items


def literal(text: str) -> Any:
    text = text.replace("\\|", "|")
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # an unquoted string (a regular expression)


@cache
def documented_arguments(cls: type) -> dict[str, tuple[Any, str]]:
    """argument -> (documented default, its row)."""
    arguments = {}
    for cells in table_rows(section(cls, "Arguments")):
        names = ticked(cells[0])
        defaults = ticked(cells[1])
        assert len(defaults) >= len(names), f"{cls.__name__}: row {cells[0]} needs a default in backticks per argument"
        for name, default in zip(names, defaults):
            assert name not in arguments, f"{cls.__name__}: `{name}` documented twice"
            arguments[name] = (literal(default), " | ".join(cells))
    return arguments


def documented_observation(cls: type) -> dict[str, tuple[str, str] | None]:
    """observation key -> (low, high) expressions for numeric fields, None for the others."""
    fields: dict[str, tuple[str, str] | None] = {}
    for cells in table_rows(section(cls, "Observation Space")):
        bounds = re.fullmatch(r"`\[(.+), (.+)\]`", cells[1]) if len(cells) > 1 else None
        for name in ticked(cells[0]):
            fields[name] = (bounds.group(1), bounds.group(2)) if bounds else None
    return fields


def documented_info(cls: type) -> dict[str, set[str] | None]:
    """info key -> the roles that get it (None: every agent)."""
    keys: dict[str, set[str] | None] = {}
    for name, rest in list_items(section(cls, "Info")).items():
        restricted = re.match(r"^ \(((?:`[\w{}\-]+`(?:, | and | \.\. )?)+)\)", rest)
        keys[name] = {role(agent) for agent in ticked(restricted.group(1))} if restricted else None
    return keys


def documented_variants(cls: type) -> dict[str, tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]]:
    variants = {}
    for line in section(cls, "Variants"):
        match = re.match(r"^- `([\w.-]+-v\d+)`(.*)$", line.strip())
        if not match:
            continue
        settings, _, wrapped = match.group(2).partition("wrapped in")
        kwargs = {}
        for token in ticked(settings):
            key, equals, value = token.partition("=")
            assert equals, f"{match.group(1)}: `{token}` is not `knob=value`"
            kwargs[key] = literal(value)
        wrappers = []
        for token in ticked(wrapped):
            call = ast.parse(token if "(" in token else token + "()", mode="eval").body
            assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), token
            wrappers.append((call.func.id, {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}))
        variants[match.group(1)] = (kwargs, wrappers)
    return variants


def role(agent_id: str) -> str:
    return re.sub(r"_(\d+|\{[^}]*\})$", "", agent_id)


# ------------------------------------------------------------------------------------- playing
def settings_of(name: str) -> list[tuple[str, dict[str, Any], list[Any]]]:
    cls = CLASSES[name]
    own = [(env_id, {}, []) for env_id, env_spec in registry.items() if load_entry_point(env_spec.entry_point) is cls]
    broad = [setting for setting in BROAD_SETTINGS if load_entry_point(registry[setting[0]].entry_point) is cls]
    return own + EXTRA_SETTINGS[name] + broad


@cache
def played(name: str) -> list[dict[str, Any]]:
    """Per setting and seed: the env, the info keys each agent got, the observation keys, the metrics."""
    runs = []
    for env_id, kwargs, wrappers in settings_of(name):
        for seed in SEEDS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                env = feedbackgym.make(env_id, wrappers=wrappers, **kwargs)
                agents = scripted_cast(env)
                env.reset(seed=seed)
                for index, agent_id in enumerate(env.possible_agents):
                    agents[agent_id].reset(seed=agent_seed(seed, index))
                info_keys: dict[str, set[str]] = {agent: set() for agent in env.possible_agents}
                observation_keys: set[str] = set()
                outside: list[tuple[str, str, float]] = []
                for agent_id in env.agent_iter(max_iter=3000):
                    observation, _, terminated, truncated, info = env.last()
                    info_keys[agent_id] |= set(info)
                    # The raw values, before the base class clips them into the space: a range must hold them.
                    for field, value in env.unwrapped._numeric_by_name(agent_id).items():
                        low, high = env.unwrapped.numeric_fields[field]
                        if not low <= value <= high:
                            outside.append((agent_id, field, value))
                    observation_keys |= set(observation)
                    env.step(None if terminated or truncated else agents[agent_id].act(observation, info))
            base = env.unwrapped
            for agent_id, info in base.infos.items():
                info_keys[agent_id] |= set(info)
            assert base.episode_metrics, f"{env_id} {kwargs} seed {seed}: the episode did not end"
            runs.append({"setting": (env_id, kwargs, wrappers, seed), "env": base, "info": info_keys,
                         "observation": observation_keys, "outside": outside, "metrics": set(base.episode_metrics)})
    return runs


# --------------------------------------------------------------------------------------- tests
NAMES = sorted(CLASSES)


def test_every_family_is_checked() -> None:
    assert set(NAMES) == set(EXTRA_SETTINGS) == {
        "SolverFeedbackEnv", "CriticEnv", "DeceptiveJudgeEnv", "JudgeProtocolEnv", "NegotiationEnv", "SimulatedUserEnv"}


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_is_documented_with_its_default(name: str) -> None:
    cls = CLASSES[name]
    parameters = inspect.signature(cls).parameters
    documented = documented_arguments(cls)
    assert set(documented) == set(parameters), (
        f"undocumented: {sorted(set(parameters) - set(documented))}; not arguments: {sorted(set(documented) - set(parameters))}")
    for argument, (default, _) in documented.items():
        real = parameters[argument].default
        assert default == real and type(default) is type(real), f"{name}.{argument}: page says {default!r}, code {real!r}"


_ALLOWED = re.compile(r" must be (.*)")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e\d+)?")
PROBES = ("?not-a-choice?", 10**12, -(10**12), 0.5, -0.5, 2.5)


def allowed_messages(cls: type, argument: str) -> list[str]:
    """What the argument checks say ``argument`` allows, from the errors of a few bad values."""
    messages = []
    for value in PROBES:
        try:
            cls(**{argument: value})
        except ArgumentError as error:
            text = str(error)
            if text.startswith(argument + " must be") or text.startswith(f"{argument}[0] must be"):
                messages.append(_ALLOWED.search(text).group(1).rsplit(", got", 1)[0])
    return messages


@pytest.mark.parametrize("name", NAMES)
def test_every_argument_states_its_allowed_values(name: str) -> None:
    """The choices and bounds the argument checks enforce all appear in the argument's row (the base
    class's knobs may leave their bounds to the ``TurnBasedTextEnv`` page)."""
    cls = CLASSES[name]
    base_doc = inspect.getdoc(TurnBasedTextEnv) or ""
    for argument, (_, row) in documented_arguments(cls).items():
        texts = [row] + ([base_doc] if argument in BASE_KNOBS else [])
        for allowed in allowed_messages(cls, argument):
            choices = re.match(r"one of ([\w, ]+)", allowed)
            if choices:
                for choice in (choice.strip() for choice in choices.group(1).split(",")):
                    assert any(f"`{choice}`" in text or f'"{choice}"' in text for text in texts), (
                        f"{name}.{argument}: the page does not name the allowed value `{choice}` ({allowed})")
                continue
            if not re.search(r"\b(integer|number|at most|low < high)\b", allowed):
                continue  # no bound to state (a regular expression that does not compile, a mapping)
            for number in _NUMBER.findall(re.sub(r"\([a-z][^)]*\)", "", allowed)):
                wanted = abs(float(number))
                shown = {abs(float(found)) for text in texts for found in _NUMBER.findall(text.replace("+-", " "))}
                assert wanted in shown, f"{name}.{argument}: the page does not state the bound {number} ({allowed})"


@pytest.mark.parametrize("name", [name for name in NAMES if "task" in inspect.signature(CLASSES[name]).parameters])
def test_a_task_that_is_not_a_registered_source_is_refused(name: str) -> None:
    """Every page's `task` is "a registered task source name, or a TaskSource": a misspelt name is an error
    naming the registered ones, also where the setting leaves the task unused (SimulatedUser's catalogue goal)."""
    with pytest.raises(ArgumentError, match=r"task.*Did you mean.*arithmetic"):
        CLASSES[name](task="arithmetc")


@pytest.mark.parametrize("name", NAMES)
def test_the_agents_table_lists_the_agents(name: str) -> None:
    cls = CLASSES[name]
    documented = [agent for cells in table_rows(section(cls, "Agents")) for agent in ticked(cells[0])]
    roles = {role(agent) for agent in documented}
    seen = set()
    for run in played(name):
        agents = run["env"].possible_agents
        seen |= {role(agent) for agent in agents}
        for agent in agents:
            assert agent in documented or (role(agent) in roles and role(agent) + "_{n-1}" in documented), (
                f"{name}: agent {agent} of {run['setting']} is not on the page")
    assert roles == seen, f"{name}: documented roles never played: {sorted(roles - seen)}"


@pytest.mark.parametrize("name", NAMES)
def test_the_observation_fields_and_their_ranges(name: str) -> None:
    cls = CLASSES[name]
    documented = documented_observation(cls)
    numeric = {key: bounds for key, bounds in documented.items() if bounds is not None}
    for run in played(name):
        env = run["env"]
        assert run["observation"] == set(documented), f"{name} {run['setting']}: observations have {sorted(run['observation'])}"
        names = {key: value for key, value in vars(env).items() if not key.startswith("_")}
        names.update(RANGE_NAMES.get(name, lambda _: {})(env))
        expected = {key: tuple(float(eval(bound, {"inf": math.inf}, names)) for bound in bounds) for key, bounds in numeric.items()}  # noqa: S307
        actual = {key: (float(low), float(high)) for key, (low, high) in env.numeric_fields.items()}
        assert actual == expected, f"{name} {run['setting']}: numeric_fields {actual}, page {expected}"
        assert not run["outside"], f"{name} {run['setting']}: values outside their range (agent, field, value): {run['outside'][:5]}"


@pytest.mark.parametrize("name", NAMES)
def test_the_info_keys_each_agent_gets(name: str) -> None:
    documented = documented_info(CLASSES[name])
    seen: dict[str, set[str]] = {}
    for run in played(name):
        for agent, keys in run["info"].items():
            undocumented = keys - set(documented)
            assert not undocumented, f"{name} {run['setting']}: {agent}'s info has undocumented {sorted(undocumented)}"
            for key in keys:
                seen.setdefault(key, set()).add(role(agent))
    assert set(seen) == set(documented), f"{name}: documented info keys never given: {sorted(set(documented) - set(seen))}"
    for key, roles in documented.items():
        if roles is not None:
            assert seen[key] <= roles, f"{name}: info `{key}` is documented for {sorted(roles)} only, given to {sorted(seen[key])}"


@pytest.mark.parametrize("name", NAMES)
def test_the_episode_metrics(name: str) -> None:
    documented = set(list_items(section(CLASSES[name], "Metrics")))
    seen: set[str] = set()
    for run in played(name):
        assert run["metrics"] <= documented, f"{name} {run['setting']}: undocumented metrics {sorted(run['metrics'] - documented)}"
        seen |= run["metrics"]
    assert seen == documented, f"{name}: documented metrics never reported: {sorted(documented - seen)}"


@pytest.mark.parametrize("name", NAMES)
def test_the_variants_are_what_the_registry_sets(name: str) -> None:
    cls = CLASSES[name]
    registered = {env_id: env_spec for env_id, env_spec in registry.items() if load_entry_point(env_spec.entry_point) is cls}
    documented = documented_variants(cls)
    assert set(documented) == set(registered), f"{name}: page {sorted(documented)}, registry {sorted(registered)}"
    for env_id, (kwargs, wrappers) in documented.items():
        env_spec = registered[env_id]
        assert kwargs == dict(env_spec.kwargs), f"{env_id}: page {kwargs}, registry {dict(env_spec.kwargs)}"
        assert wrappers == [(wrapper, dict(arguments)) for wrapper, arguments in env_spec.wrappers], f"{env_id}: wrappers"


# ---------------------------------------------------------------------- the checks can fail
def test_a_knob_added_or_removed_without_the_page_is_caught() -> None:
    cls = CLASSES["SolverFeedbackEnv"]
    signature = inspect.signature(cls)
    added = signature.replace(parameters=[*signature.parameters.values(),
                                          inspect.Parameter("new_knob", inspect.Parameter.KEYWORD_ONLY, default=3)])
    removed = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "count_down"])
    for drifted, name in ((added, "new_knob"), (removed, "count_down")):
        page = type("Drifted", (cls,), {"__doc__": cls.__doc__, "__signature__": drifted})
        CLASSES["Drifted"] = page
        try:
            with pytest.raises(AssertionError, match=name):
                test_every_argument_is_documented_with_its_default("Drifted")
        finally:
            del CLASSES["Drifted"]


def test_the_parsers_read_the_convention() -> None:
    page = type("Page", (), {"__doc__": """Title.

    ## Info

    - `a`, `b`: both agents
    - `c` (`solver_0`, `peer_0` .. `peer_{n-1}`): some

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `x`, `y` | `1`, `None` (see above) | two |
    | `r` | `a (b\\|c)` | regex |

    ## Variants

    - `A-v0`: `k="v"`, `n=2`; wrapped in `w`, then `u(p=1)`.
    """})
    assert documented_info(page) == {"a": None, "b": None, "c": {"solver", "peer"}}
    assert {key: value for key, (value, _) in documented_arguments(page).items()} == {"x": 1, "y": None, "r": "a (b|c)"}
    assert documented_variants(page) == {"A-v0": ({"k": "v", "n": 2}, [("w", {}), ("u", {"p": 1})])}
