"""Task layer: tasks, answer normalisation, procedural sources, the JSONL loader and the registry."""

from __future__ import annotations

import copy
import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest

from feedbackgym.envs.core.registry import RegistryError
from feedbackgym.envs.tasks import (
    ArithmeticTasks,
    Evidence,
    JsonlTasks,
    KnowledgeBaseTasks,
    MultiplicationTasks,
    Task,
    TaskSource,
    make_task_source,
    register_task_source,
    task_sources,
)

PROCEDURAL = ["arithmetic", "multiplication", "hex_multiplication", "knowledge_mcq"]


def draw(source: TaskSource, seed: int, n: int = 5) -> list[Task]:
    rng = np.random.default_rng(seed)
    return [source.sample(rng) for _ in range(n)]


def wrong_answer(task: Task) -> str:
    if task.kind == "choice":
        return next(letter for letter in "ABCDEF" if letter != task.answer)
    if task.base == 16:
        return f"{int(task.answer, 16) + 1:X}"
    return str(int(task.answer) + 1)


# --- Task and answer normalisation -------------------------------------------------------------


def numeric(answer: str, base: int = 10) -> Task:
    return Task(id="t", prompt="?", answer=answer, kind="numeric", base=base)


MCQ = Task(id="q", prompt="Pick", answer="B", kind="choice", choices=("Orvane", "Tesk Mill", "1845"))


@pytest.mark.parametrize(
    ("gold", "candidate", "base"),
    [
        ("1A3F", "0x1A3f", 16),
        ("1A3F", "1a3f", 16),
        ("1A3F", " 0X1A3F. ", 16),
        ("1234", "1,234", 10),
        ("1234567", "1_234_567", 10),
        ("42", "42.0", 10),
        ("42", "$42.", 10),
        ("-7", "-7", 10),
        ("-7", "\u22127", 10),
        ("0.5", ".50", 10),
    ],
)
def test_numeric_normalisation_accepts_equivalent_forms(gold: str, candidate: str, base: int) -> None:
    assert numeric(gold, base).check(candidate)


@pytest.mark.parametrize(
    ("gold", "candidate", "base"),
    [("1A3F", "1A3E", 16), ("42", "42.5", 10), ("42", "-42", 10), ("42", "forty-two", 10), ("42", "", 10), ("10", "0x10", 10)],
)
def test_numeric_normalisation_rejects_other_values(gold: str, candidate: str, base: int) -> None:
    assert not numeric(gold, base).check(candidate)


def test_normalize_returns_none_for_unreadable_input() -> None:
    assert numeric("5").normalize("five") is None
    assert numeric("5").normalize(None) is None  # type: ignore[arg-type]
    assert numeric("5").check(5)  # type: ignore[arg-type]
    assert MCQ.normalize("F") is None  # only three options


@pytest.mark.parametrize(
    "candidate", ["B", "b", "(B)", "B)", "**B**", "(b).", "tesk mill", "  Tesk   Mill ", "(B) Tesk Mill"]
)
def test_choice_normalisation(candidate: str) -> None:
    assert MCQ.normalize(candidate) == "B"
    assert MCQ.check(candidate)


def test_choice_normalisation_rejects_other_options() -> None:
    assert not MCQ.check("A")
    assert not MCQ.check("Orvane")
    assert not MCQ.check("(A) Tesk Mill")  # the letter and the text disagree
    assert MCQ.normalize("1845") == "C"


def test_text_normalisation() -> None:
    task = Task(id="t", prompt="?", answer="William Shakespeare", kind="text")
    assert task.check("  william   SHAKESPEARE. ")
    assert task.check('"William Shakespeare"')
    assert not task.check("Christopher Marlowe")
    assert task.normalize("...") is None


def test_aliases_cover_revealing_forms() -> None:
    assert {"B", "(B)", "**B**", "Tesk Mill"} <= set(MCQ.aliases())
    assert {"1A3F", "0x1A3F", "0x1a3f"} <= set(numeric("1a3f", 16).aliases())
    assert "1,234,567" in numeric("1234567").aliases()
    aliases = MCQ.aliases()
    assert list(aliases) == sorted(aliases, key=len, reverse=True)


def test_task_validation_and_immutability() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Task(id="t", prompt="?", answer="1", kind="number")
    with pytest.raises(ValueError, match="base must be one of"):
        Task(id="t", prompt="?", answer="1", kind="numeric", base=8)
    with pytest.raises(ValueError, match="cannot be read"):
        Task(id="t", prompt="?", answer="seven", kind="numeric")
    task = Task(id="t", prompt="?", answer="1", kind="numeric", metadata={"a": [1, 2], "nested": {"b": 3}})
    with pytest.raises(TypeError):
        task.metadata["a"] = 3  # type: ignore[index]
    with pytest.raises(TypeError):
        task.metadata["nested"]["c"] = 4  # type: ignore[index]
    assert task.metadata["a"] == (1, 2)
    assert hash(task) == hash(copy.deepcopy(task))
    assert pickle.loads(pickle.dumps(task)) == task
    assert json.loads(json.dumps(dict(task.metadata))) == {"a": [1, 2], "nested": {"b": 3}}


def test_public_view_hides_gold_information() -> None:
    task = KnowledgeBaseTasks().sample(np.random.default_rng(0))
    view = task.public_view()
    assert set(view) == {"id", "prompt", "kind", "choices", "base", "difficulty"}
    assert "answer" not in view and task.answer != view["prompt"]
    assert all(e.text not in json.dumps(view) for e in task.evidence)


# --- procedural sources ------------------------------------------------------------------------


@pytest.mark.parametrize("name", PROCEDURAL)
def test_same_seed_same_tasks_different_seed_different_tasks(name: str) -> None:
    source = make_task_source(name)
    first, again, other = draw(source, 7), draw(make_task_source(name), 7), draw(source, 8)
    assert first == again
    assert [t.id for t in first] == [t.id for t in again]
    assert [t.prompt for t in first] != [t.prompt for t in other]
    assert len({t.id for t in first + other}) == 10


@pytest.mark.parametrize("name", PROCEDURAL)
def test_gold_answers_check_and_wrong_answers_do_not(name: str) -> None:
    for task in draw(make_task_source(name), 3, n=30):
        assert task.check(task.answer)
        for alias in task.aliases():
            assert task.check(alias), alias
        assert not task.check(wrong_answer(task))
        assert task.solution


@pytest.mark.parametrize("name", PROCEDURAL)
def test_sampling_uses_only_the_given_generator(name: str) -> None:
    source = make_task_source(name)
    np.random.seed(1)
    random.seed(1)
    first = draw(source, 11)
    np.random.seed(2)
    random.seed(2)
    np.random.random(5)
    assert draw(source, 11) == first


def test_from_seed_regenerates_a_task_from_its_id() -> None:
    source = ArithmeticTasks(difficulty=3)
    task = source.sample(np.random.default_rng(0))
    assert source.from_seed(int(task.id.rsplit("seed-", 1)[1])) == task
    assert ArithmeticTasks(difficulty=4).from_seed(5).id != source.from_seed(5).id  # knobs are part of the id


def test_sample_rejects_a_non_generator() -> None:
    with pytest.raises(TypeError, match="numpy Generator"):
        ArithmeticTasks().sample(0)  # type: ignore[arg-type]


@pytest.mark.parametrize("difficulty", [1, 2, 3, 4, 5])
def test_arithmetic_answers_match_python(difficulty: int) -> None:
    for task in draw(ArithmeticTasks(difficulty=difficulty), difficulty, n=40):
        expression = task.metadata["expression"]
        assert task.prompt == f"Compute {expression}."
        value = eval(expression.replace("/", "//"))  # noqa: S307 - generated digits and operators only
        assert int(task.answer) == value
        assert int(task.answer) >= 0
        assert task.solution.count("Step") == difficulty  # type: ignore[union-attr]


def test_arithmetic_respects_operations_and_negatives() -> None:
    for task in draw(ArithmeticTasks(difficulty=5, operations="+-", allow_negative=True), 0, n=20):
        assert "*" not in task.prompt and "/" not in task.prompt
        assert int(task.answer) == eval(task.metadata["expression"])  # noqa: S307


@pytest.mark.parametrize(
    ("digits", "base", "operand_digits"),
    [(5, 10, "all"), (5, 16, "all"), (5, 16, "decimal"), (1, 10, "all"), (12, 16, "all")],
)
def test_multiplication_answer_is_the_product(digits: int, base: int, operand_digits: str) -> None:
    for task in draw(MultiplicationTasks(digits=digits, base=base, operand_digits=operand_digits), 5, n=20):
        meta = task.metadata
        a, b = int(meta["a_text"], base), int(meta["b_text"], base)
        assert (a, b) == (meta["a"], meta["b"])
        assert len(meta["a_text"]) == len(meta["b_text"]) == digits
        assert int(task.answer, base) == a * b
        assert task.base == base
        assert f"{meta['a_text']} * {meta['b_text']}" in task.prompt
        assert task.solution.count("Partial product") == digits  # type: ignore[union-attr]
        if operand_digits == "decimal":
            assert (meta["a_text"] + meta["b_text"]).isdigit()
        if base == 16:
            assert "base 16" in task.prompt and task.answer == task.answer.upper()


def test_multiplication_solution_follows_feedback_friction_hex_example() -> None:
    # hex5d.jsonl in the Feedback Friction repository: 69837 * 17635 (base 16) = 9A3BDDD63
    task = MultiplicationTasks(base=16)._generate(_FixedDigits("69837", "17635"), "t")  # type: ignore[arg-type]
    assert task.answer == "9A3BDDD63"
    first_step = "Step 1: Multiply 69837 by '5' → Partial product: 20F913, Shifted: 20F913, Intermediate Sum: 20F913"
    assert first_step in task.solution  # type: ignore[operator]
    assert task.solution.endswith("Final Product (hex) = 9A3BDDD63")  # type: ignore[union-attr]


class _FixedDigits:
    """A stand-in generator that yields fixed operands, to compare against a published example."""

    def __init__(self, *operands: str) -> None:
        self.values = [int(text, 16) for text in operands]

    def integers(self, low: int, high: int | None = None, size: int | None = None) -> int:
        return self.values.pop(0)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ArithmeticTasks(difficulty=9), "difficulty must be an integer in 1..5, got 9"),
        (lambda: ArithmeticTasks(operations="+^"), "operations"),
        (lambda: ArithmeticTasks(operations="/"), "besides '/'"),
        (lambda: MultiplicationTasks(digits=0), "digits must be an integer in 1..12, got 0"),
        (lambda: MultiplicationTasks(base=8), "base must be one of 10, 16, got 8"),
        (lambda: MultiplicationTasks(operand_digits="decimal"), "only applies to base=16"),
        (lambda: KnowledgeBaseTasks(n_choices=7), "n_choices must be an integer in 2..6, got 7"),
        (lambda: KnowledgeBaseTasks(n_entities=5), "n_entities must be an integer in 24..20000"),
        (lambda: KnowledgeBaseTasks(relations=["capital"]), "relations must be"),
    ],
)
def test_constructors_validate_knobs(factory, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        factory()


# --- knowledge base ----------------------------------------------------------------------------


@pytest.mark.parametrize("n_choices", [2, 4, 6])
def test_knowledge_tasks_have_one_correct_choice_and_fabricated_evidence_for_each_wrong_one(n_choices: int) -> None:
    source = KnowledgeBaseTasks(n_entities=60, n_choices=n_choices, seed_world=3)
    for task in draw(source, 0, n=40):
        assert len(task.choices) == len(set(task.choices)) == n_choices
        assert [letter for letter in "ABCDEF"[:n_choices] if task.check(letter)] == [task.answer]
        gold = task.choice_text(task.answer)
        meta = task.metadata
        if meta["relation"] == "inventor_born_in":
            assert gold == source.kb.lookup(source.kb.lookup(meta["subject"], "inventor"), "born_in")
        else:
            assert gold == source.kb.lookup(meta["subject"], meta["relation"])
        true = [e for e in task.evidence if e.is_true]
        fake = [e for e in task.evidence if not e.is_true]
        assert true and all(e.supports == task.answer for e in true)
        wrong = sorted(set("ABCDEF"[:n_choices]) - {task.answer})
        assert sorted(e.supports for e in fake) == wrong
        for e in fake:
            assert task.choice_text(e.supports) in e.text
        assert len({e.id for e in task.evidence}) == len(task.evidence)
        assert all(e.id in task.solution for e in true if e.text in task.solution)  # type: ignore[operator]
        assert gold in task.solution  # type: ignore[operator]


def test_same_seed_world_same_knowledge_base() -> None:
    a, b, c = KnowledgeBaseTasks(seed_world=1), KnowledgeBaseTasks(seed_world=1), KnowledgeBaseTasks(seed_world=2)
    assert a.facts == b.facts and a.kb.entities == b.kb.entities
    assert a.facts != c.facts
    # the world is fixed by seed_world alone: sampling never changes it
    draw(a, 0, n=20)
    assert a.facts == b.facts


def test_knowledge_base_is_consistent() -> None:
    source = KnowledgeBaseTasks(n_entities=200)
    kinds = source.kb.entities
    assert sum(len(names) for names in kinds.values()) == 200
    assert len({name for names in kinds.values() for name in names}) == 200
    assert len({(f.subject, f.relation) for f in source.facts}) == len(source.facts)
    assert all(isinstance(e, Evidence) for t in draw(source, 1) for e in t.evidence)


# --- JSONL loader ------------------------------------------------------------------------------


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


GSM8K = [
    {
        "question": "Natalia sold 48 clips in April and half as many in May. How many in total?",
        "answer": "In May she sold 48/2 = <<48/2=24>>24.\n48+24 = <<48+24=72>>72\n#### 72",
    },
    {"question": "A shirt costs $1,200 and a hat $34. Total?", "answer": "1200 + 34 = 1234\n#### 1,234"},
]


def test_jsonl_gsm8k_with_answer_regex(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "gsm8k.jsonl", GSM8K)
    source = JsonlTasks(path, fields={"prompt": "question"}, kind="numeric", answer_regex="gsm8k")
    assert len(source) == 2
    first = source[0]
    assert first.answer == "72" and first.check("72.0") and not first.check("24")
    assert first.solution == GSM8K[0]["answer"]
    assert first.id == "gsm8k/1"
    assert source[1].check("1234")
    custom = JsonlTasks(path, fields={"prompt": "question"}, kind="numeric", answer_regex=r"####\s*(\S+)")
    assert [t.answer for t in custom] == ["72", "1,234"]


def test_jsonl_field_mapping_for_multiple_choice(tmp_path: Path) -> None:
    records = [
        {"q": "Which is a prime?", "options": ["4", "6", "7", "9"], "label": 2, "why": "7 is prime.", "subject": "math"},
        {"q": "Capital of France?", "options": {"A": "Paris", "B": "Rome"}, "label": "Paris", "why": "", "subject": "geo"},
        {"q": "Pick B.\n(A) x\n(B) y", "options": ["x", "y"], "label": "(B)", "why": "", "subject": "misc"},
    ]
    fields = {"prompt": "q", "choices": "options", "answer": "label", "solution": "why"}
    source = JsonlTasks(write_jsonl(tmp_path / "mmlu.jsonl", records), fields=fields, kind="choice")
    prime, capital, pick = list(source)
    assert prime.answer == "C" and prime.check("7") and prime.check("(C)")
    assert "(C) 7" in prime.prompt and prime.solution == "7 is prime."
    assert prime.metadata["fields"] == {"subject": "math"} and prime.metadata["line"] == 1
    assert capital.answer == "A" and capital.choices == ("Paris", "Rome")
    assert pick.prompt == records[2]["q"]  # choices already listed: not appended twice
    assert pick.answer == "B"


def test_jsonl_sampling(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"q{i}", "answer": str(i)} for i in range(20)])
    source = JsonlTasks(path)
    assert draw(source, 4) == draw(JsonlTasks(path), 4)
    assert draw(source, 4) != draw(source, 5)
    ordered = JsonlTasks(path, shuffle=False)
    assert [t.prompt for t in draw(ordered, 0, n=22)] == [f"q{i}" for i in range(20)] + ["q0", "q1"]
    assert source[-1].prompt == "q19"
    with pytest.raises(IndexError):
        source[20]


def test_jsonl_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        JsonlTasks(missing)


def test_jsonl_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "a", "answer": "b"}, "", '{"prompt": "c", "answer":'])
    with pytest.raises(ValueError, match=r"bad\.jsonl, line 3: malformed JSON"):
        JsonlTasks(path)


def test_jsonl_missing_key_names_line_key_and_keys_present(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "a", "answer": "b"}, {"query": "c", "answer": "d"}])
    expected = r"line 2: record has no key 'question' \(mapped to Task.prompt\); keys present: \['answer', 'query'\]"
    with pytest.raises(ValueError, match=expected):
        JsonlTasks(path, fields={"prompt": "question"})


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_jsonl_empty_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(ValueError, match="contains no records"):
        JsonlTasks(path)


@pytest.mark.parametrize(
    ("records", "kwargs", "message"),
    [
        ([{"prompt": "a", "answer": "no hashes"}], {"answer_regex": "gsm8k"}, "line 1: answer_regex"),
        ([{"prompt": "a", "answer": "seven"}], {"kind": "numeric"}, "line 1: .*cannot be read as a numeric answer"),
        ([{"prompt": "a", "answer": "E", "choices": ["x", "y"]}], {"kind": "choice"}, "line 1: answer 'E'"),
        ([["a", "b"]], {}, "line 1: expected a JSON object"),
        (
            [{"prompt": "a", "answer": "b", "id": 1}, {"prompt": "c", "answer": "d", "id": 1}],
            {"fields": {"id": "id"}},
            "line 2: duplicate task id",
        ),
        ([{"prompt": "a", "answer": "b"}], {"fields": {"question": "q"}}, "unknown Task attribute"),
        ([{"prompt": "a", "answer": "b"}], {"answer_regex": "("}, "answer_regex is not a valid"),
        ([{"prompt": "a", "answer": "b"}], {"kind": "maths"}, "kind must be one of"),
    ],
)
def test_jsonl_other_errors_are_explicit(
    tmp_path: Path, records: list[object], kwargs: dict[str, object], message: str
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", records)
    with pytest.raises(ValueError, match=message):
        JsonlTasks(path, **kwargs)


# --- registry ----------------------------------------------------------------------------------


def test_builtin_sources_are_registered() -> None:
    assert {"arithmetic", "multiplication", "hex_multiplication", "knowledge_mcq", "jsonl"} <= set(task_sources())
    hex_source = make_task_source("hex_multiplication", digits=3)
    assert isinstance(hex_source, MultiplicationTasks) and hex_source.base == 16 and hex_source.digits == 3
    assert make_task_source("multiplication").base == 10  # type: ignore[attr-defined]
    assert make_task_source("hex_multiplication", base=10).name == "multiplication"


def test_unknown_source_name_suggests_a_match() -> None:
    with pytest.raises(RegistryError, match=r"Did you mean `arithmetic`"):
        make_task_source("arithmetc")
    with pytest.raises(KeyError):
        make_task_source("knowledge")


def test_bad_keyword_names_field_and_lists_accepted() -> None:
    with pytest.raises(TypeError, match=r"'digit' \(did you mean 'digits'\?\); accepted: digits, base, operand_digits"):
        make_task_source("multiplication", digit=5)
    with pytest.raises(ValueError, match="unknown argument"):
        make_task_source("arithmetic", level=3)
    with pytest.raises(TypeError, match="needs argument.*'path'"):
        make_task_source("jsonl")


def test_register_custom_source() -> None:
    class Constant(TaskSource):
        name = "constant"

        def __init__(self, value: int = 1) -> None:
            self.value = value

        def sample(self, rng: np.random.Generator) -> Task:
            return Task(id=f"constant/{self.value}", prompt="Say the number.", answer=str(self.value), kind="numeric")

        def describe(self) -> dict[str, object]:
            return {"name": self.name, "value": self.value}

    register_task_source("test_constant", Constant, defaults={"value": 3}, override=True)
    assert make_task_source("test_constant").sample(np.random.default_rng()).answer == "3"
    with pytest.raises(RegistryError, match="already registered"):
        register_task_source("test_constant", Constant)
