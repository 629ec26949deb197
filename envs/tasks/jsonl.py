"""Users' own datasets (GSM8K, MATH, MMLU exports, ...) from JSONL files, with a field mapping."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from feedbackgym.envs.core.checks import require_file, require_mapping

from ._checks import require_bool, require_generator, require_one_of, require_text
from .answers import BASES, KINDS, format_choices, letter, normalize_choice
from .base import Task, TaskSource

TASK_FIELDS = ("id", "prompt", "answer", "choices", "solution", "difficulty")
# GSM8K ends each answer with "#### 72"; the text before it is the worked solution.
ANSWER_REGEX_PRESETS = {"gsm8k": r"####\s*(?P<answer>[^\n]+?)\s*$"}


class JsonlTasks(TaskSource):
    """Tasks read from a JSONL file, one JSON object per line; blank lines are skipped.

    Knobs:
        path: the file. Everything is read and checked at construction, so a bad record fails at once,
            with the file and line number, and never in the middle of a run.
        fields: Task attribute -> record key, for any of ``TASK_FIELDS``; merged over the default
            ``{"prompt": "prompt", "answer": "answer"}`` (plus ``"choices": "choices"`` for choice tasks).
            Map an optional field to None to drop it. Every mapped key must be present in every record.
            Unmapped keys are kept in ``Task.metadata["fields"]``.
        kind: "text" (default), "numeric" or "choice"; how answers are compared.
        shuffle: True (default): ``sample(rng)`` draws a uniformly random record, with replacement, from
            ``rng`` alone, so the same seed gives the same task. False: ``sample`` walks the file in order
            (a cursor kept on the source, wrapping around) and ignores ``rng``; for evaluation passes.
        answer_regex: optional pattern applied to the answer text (``re.search``); the named group
            "answer", else group 1, else the whole match becomes the answer. "gsm8k" is a preset for
            "... #### 72". A record it does not match is an error. When it applies and no solution field
            is mapped, the full answer text becomes the solution (GSM8K's rationale).
        base: 10 or 16, for numeric tasks.

    Choice answers may be a letter ("C", "(C)"), an option's text, or a 0-based index (a JSON integer,
    as in MMLU exports). Choices may be a list or an object ``{"A": ..., "B": ...}``; the prompt gets
    "(A) ..." lines appended unless it already contains "(A)". Ids are the mapped id, else
    ``<file stem>/<line number>``. Indexing (``source[i]``, ``len``, iteration) follows file order.
    """

    name = "jsonl"

    def __init__(
        self,
        path: str | os.PathLike[str],
        fields: Mapping[str, str | None] | None = None,
        kind: str = "text",
        shuffle: bool = True,
        answer_regex: str | None = None,
        base: int = 10,
    ) -> None:
        self.kind = require_one_of("kind", kind, KINDS)
        self.base = require_one_of("base", base, BASES)
        self.shuffle = require_bool("shuffle", shuffle)
        self.fields = self._mapping(require_mapping("fields", fields) or {})
        self.answer_regex = require_text("answer_regex", answer_regex, allow_none=True)
        self._pattern = self._compile(answer_regex)
        self.path = require_file("path", path)
        self._tasks = self._load()
        self._cursor = 0

    def _mapping(self, fields: Mapping[str, str | None]) -> dict[str, str]:
        unknown = [key for key in fields if key not in TASK_FIELDS]
        if unknown:
            raise ValueError(f"fields has unknown Task attribute(s) {unknown}; allowed: {', '.join(TASK_FIELDS)}")
        merged: dict[str, str | None] = {"prompt": "prompt", "answer": "answer"}
        if self.kind == "choice":
            merged["choices"] = "choices"
        merged.update(fields)
        for attribute, key in merged.items():
            if key is not None and (not isinstance(key, str) or not key):
                raise ValueError(f"fields[{attribute!r}] must name a record key (a string) or be None, got {key!r}")
        for required in ("prompt", "answer"):
            if not isinstance(merged[required], str):
                raise ValueError(f"fields[{required!r}] must name a record key, got {merged[required]!r}")
        return {attribute: key for attribute, key in merged.items() if key is not None}

    @staticmethod
    def _compile(answer_regex: str | None) -> re.Pattern[str] | None:
        if answer_regex is None:
            return None
        try:
            return re.compile(ANSWER_REGEX_PRESETS.get(answer_regex, answer_regex))
        except re.error as error:
            raise ValueError(f"answer_regex is not a valid regular expression ({error}): {answer_regex!r}") from None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "fields": dict(self.fields),
            "kind": self.kind,
            "shuffle": self.shuffle,
            "answer_regex": self.answer_regex,
            "base": self.base,
        }

    def _load(self) -> list[Task]:
        tasks: list[Task] = []
        seen: dict[str, int] = {}
        with self.path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                where = f"{self.path}, line {number}"
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as error:
                    raise ValueError(f"{where}: not valid UTF-8 ({error.reason} at byte {error.start})") from None
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{where}: malformed JSON: {error.msg} (column {error.colno})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
                task = self._task(record, number, where)
                if task.id in seen:
                    raise ValueError(f"{where}: duplicate task id {task.id!r} (first on line {seen[task.id]})")
                seen[task.id] = number
                tasks.append(task)
        if not tasks:
            raise ValueError(f"{self.path} contains no records (the file is empty or has only blank lines)")
        return tasks

    def _task(self, record: dict[str, Any], number: int, where: str) -> Task:
        values: dict[str, Any] = {}
        for attribute, key in self.fields.items():
            if key not in record:
                raise ValueError(
                    f"{where}: record has no key {key!r} (mapped to Task.{attribute}); keys present: {sorted(record)}"
                )
            values[attribute] = record[key]
        prompt = values["prompt"]
        if not isinstance(prompt, str):
            raise ValueError(f"{where}: {self.fields['prompt']!r} must be a string, got {type(prompt).__name__}")
        raw_answer = values["answer"]
        answer = raw_answer if isinstance(raw_answer, str) else json.dumps(raw_answer)
        solution = values.get("solution")
        if self._pattern is not None:
            match = self._pattern.search(answer)
            if match is None:
                raise ValueError(f"{where}: answer_regex {self._pattern.pattern!r} does not match answer {answer!r}")
            groups = match.groupdict()
            answer = groups["answer"] if "answer" in groups else match.group(1 if match.re.groups else 0)
            if "solution" not in self.fields:
                solution = raw_answer
        choices = self._choices(values.get("choices", ()), where)
        if self.kind == "choice":
            answer = self._choice_answer(raw_answer if self._pattern is None else answer, choices, where)
            if choices and "(A)" not in prompt:
                prompt = format_choices(prompt, choices)
        difficulty = values.get("difficulty")
        if difficulty is not None:
            try:
                difficulty = float(difficulty)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: difficulty must be a number, got {difficulty!r}") from None
        mapped_keys = set(self.fields.values())
        metadata = {
            "path": str(self.path),
            "line": number,
            "fields": {key: value for key, value in record.items() if key not in mapped_keys},
        }
        if answer != raw_answer:
            metadata["raw_answer"] = raw_answer
        try:
            return Task(
                id=str(values["id"]) if "id" in values else f"{self.path.stem}/{number}",
                prompt=prompt,
                answer=answer,
                kind=self.kind,
                choices=choices,
                solution=None if solution is None else str(solution),
                difficulty=difficulty,
                base=self.base,
                metadata=metadata,
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None

    @staticmethod
    def _choices(raw: Any, where: str) -> tuple[str, ...]:
        if isinstance(raw, Mapping):
            raw = list(raw.values())
        if not isinstance(raw, (list, tuple)):
            raise ValueError(f"{where}: choices must be a list or an object of options, got {type(raw).__name__}")
        if len(raw) > 26:
            raise ValueError(f"{where}: at most 26 choices are supported, got {len(raw)}")
        return tuple(str(choice) for choice in raw)

    @staticmethod
    def _choice_answer(raw: Any, choices: tuple[str, ...], where: str) -> str:
        count = len(choices) or 26
        if isinstance(raw, int) and not isinstance(raw, bool):
            if 0 <= raw < count:
                return letter(raw)
        elif isinstance(raw, str):
            found = normalize_choice(raw, choices)
            if found is not None:
                return found
            if raw.strip().isdigit() and int(raw) < count:
                return letter(int(raw))
        raise ValueError(
            f"{where}: answer {raw!r} is not a letter, option text or 0-based index of {len(choices)} choices"
        )

    def sample(self, rng: np.random.Generator) -> Task:
        if not self.shuffle:
            task = self._tasks[self._cursor % len(self._tasks)]
            self._cursor += 1
            return task
        return self._tasks[int(require_generator(rng).integers(len(self._tasks)))]

    def __len__(self) -> int:
        return len(self._tasks)

    def __getitem__(self, index: int) -> Task:
        return self._tasks[index]

    def __iter__(self) -> Iterator[Task]:
        return iter(self._tasks)
