"""Transcripts round-trip through episodes.jsonl exactly, whatever characters the agents wrote."""

from __future__ import annotations

import json
import random

from feedbackgym.experiments.runner import EpisodeResult, JsonlSink, dumps_exact, read_episode, read_finished

# The characters that break naive JSON lines: lone surrogates (alone, and a high and a low side by side,
# which a standard decoder merges into one character), real astral characters, NUL and other controls,
# bidi overrides, quotes and backslashes, and text that looks like a JSON escape.
ALPHABET = [
    "\ud83d", "\ude00", "\ud800", "\udfff", "\udbff", "\udc00", "\U0001F600", "\U0010FFFF", "\x00", "\x1b", "\x7f",
    "\r", "\n", "\t", "\u202e", "\u2066", "\u200b", "\ufeff", "\u2028", '"', "\\", "\\u", "\\ud83d", "\\\\ude00",
    "a", "Z", " ", "é", "中", "\uffff", "zqsplit", "_lone_surrogates",
]


def random_texts(count: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = ["\ud83d\ude00", "\ud83d" + "\ude00", "x\ud800\udc00y", "\udc00\ud800", "\\\ud83d\ude00", "\\ud83d\\ude00"]
    for _ in range(count):
        texts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randrange(0, 40))))
    return texts


def episode(text: str) -> EpisodeResult:
    message = {"index": 0, "turn": 0, "sender": "solver_0", "visible_to": ["solver_0"], "kind": "move", "text": text,
               "data": {"raw": text, text: [text, {"k": text}]}}
    return EpisodeResult(episode_id=f"e{len(text)}", seed=0, env_id="X-v0", transcript=[message], metrics={"note": text})


def test_every_string_comes_back_exactly() -> None:
    for text in random_texts(500):
        result = episode(text)
        line = result.to_json()
        line.encode("utf-8")  # writable as UTF-8, whatever the text holds
        assert "\n" not in line
        back = read_episode(line)
        assert back == result.to_record(), ascii(text)
        assert back["transcript"][0]["text"] == text and back["transcript"][0]["data"][text][1]["k"] == text, ascii(text)


def test_two_lone_surrogates_stay_two_characters_through_the_file(tmp_path) -> None:
    text = "Hmm \ud83d" + "\ude00 and a real \U0001F600"
    sink = JsonlSink(tmp_path / "episodes.jsonl")
    sink.write(episode(text).to_json())
    sink.close()
    (record,) = read_finished(tmp_path / "episodes.jsonl").values()
    assert record["transcript"][0]["text"] == text and len(record["transcript"][0]["text"]) == len(text)
    assert "_lone_surrogates" not in record


def test_lines_stay_standard_json() -> None:
    # Any JSON reader can read the file; only the flag and surrogate pairs need this module's reader.
    plain = json.loads(dumps_exact({"text": "ok \U0001F600"}))
    assert plain == {"text": "ok \U0001F600"}
    flagged = json.loads(dumps_exact({"text": "lone \ud800"}))
    assert flagged == {"_lone_surrogates": True, "text": "lone \ud800"}
