"""`feedbackgym report` and `feedbackgym show` (issue 14): the HTML report opens in a real headless
Chromium, shows the run's numbers, filters episodes, shows every turn, and never runs episode text."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.cli import main as cli_main
from feedbackgym.experiments.evaluate import run_experiment
from feedbackgym.experiments.report import (
    bootstrap_interval,
    episode_value,
    error_cause,
    format_episode,
    outcome,
    render_report,
    script_json,
    terminal_safe,
    write_report,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
HOSTILE_CONDITION = "<i>hostile</i>"
HOSTILE_TEXTS = [
    '<script>window.__pwned = 1; document.title = "pwned";</script>',
    '</script><script>window.__pwned = 2; document.title = "pwned";</script>',
    '<img src=x onerror="window.__pwned = 3; document.title = \'pwned\'">',
    "<b>bold?</b> <a href=\"javascript:window.__pwned=4\">link</a> <!-- comment --> &amp; \u2028 \x1b[31mred",
]


def hydra_config(*overrides: str):
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def hostile_record() -> dict:
    transcript = [
        {"index": 0, "turn": 0, "sender": "env", "visible_to": ["solver_0"], "kind": "prompt", "text": "Compute 2 + 2.", "data": {}},
        {"index": 1, "turn": 0, "sender": "solver_0", "visible_to": ["solver_0", "teacher_0"], "kind": "move", "text": HOSTILE_TEXTS[0], "data": {}},
        {"index": 2, "turn": 0, "sender": "solver_0", "visible_to": ["solver_0"], "kind": "invalid", "text": HOSTILE_TEXTS[1],
         "data": {"error": "no answer <b>found</b>"}},
        {"index": 3, "turn": 0, "sender": "env", "visible_to": ["solver_0"], "kind": "notice", "text": "Invalid move: retries left 1.", "data": {}},
        {"index": 4, "turn": 1, "sender": "teacher_0", "visible_to": ["solver_0"], "kind": "feedback", "text": HOSTILE_TEXTS[2],
         "data": {"event": {"giver": "teacher_0", "receiver": "solver_0", "text": HOSTILE_TEXTS[2], "level": "unary", "verdict": "incorrect",
                            "deceptive": True, "rendered_by": ["FeedbackLevelWrapper"]},
                  "original": {"giver": "teacher_0", "receiver": "solver_0", "text": HOSTILE_TEXTS[3], "level": "critique"}}},
        {"index": 5, "turn": 1, "sender": "solver_0", "visible_to": ["solver_0", "teacher_0"], "kind": "move", "text": HOSTILE_TEXTS[3], "data": {}},
    ]
    return {"episode_id": "hostile/0", "seed": 7, "env_id": "SolverFeedback-v0", "condition": HOSTILE_CONDITION, "returns": {"solver_0": -0.1},
            "metrics": {"solved": False, "attempts": 2, "cumulative_accuracy": [0.0, 0.0], "end_reason": "<script>x</script>"},
            "steps": 3, "transcript": transcript, "agents": {}, "seconds": 0.01, "error": None}


def errored_record() -> dict:
    calls = [{"model": "openai/x", "latency": 0.5, "cached": False, "tries": 1, "prompt_tokens": 100, "completion_tokens": 20, "cost": 0.001},
             {"model": "openai/x", "error": "gave up after 3 tries; last error: RateLimitError (HTTP 429): slow down", "tries": 3}]
    stats = {"model": "openai/x", "calls": 2, "cached_calls": 0, "failed_calls": 1, "prompt_tokens": 100, "completion_tokens": 20,
             "cost": 0.001, "latency": 0.5, "per_call": calls}
    return {"episode_id": "broken/0", "seed": 0, "env_id": "SolverFeedback-v0", "condition": "broken", "returns": {}, "metrics": {},
            "steps": 1, "transcript": [], "agents": {"solver_0": stats}, "seconds": 0.5,
            "error": "LLMCallError: openai/x: gave up after 3 tries; last error: RateLimitError (HTTP 429): slow down"}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The feedback ladder, 4 episodes per level, feedback rewritten by the unary wrapper; plus a hostile and an errored episode."""
    folder = tmp_path_factory.mktemp("ladder")
    run_experiment(hydra_config("run.episodes=4", "run.progress=false", "run.concurrency=2", "wrapper=unary"), folder)
    assert (folder / "report.html").is_file()  # written at the end of every run
    with (folder / "episodes.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(hostile_record()) + "\n")
        handle.write(json.dumps(errored_record()) + "\n")
    write_report(folder)
    return folder


def records_of(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "episodes.jsonl").read_text(encoding="utf-8").splitlines()]


# ----------------------------------------------------------------------------- without a browser
def test_the_report_is_self_contained_and_escapes_episode_text(run_folder: Path) -> None:
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    # nothing is fetched: every image is inline, no script or style comes from elsewhere
    assert not re.findall(r'(?:src|href)="(?!data:|#)', page)
    assert "connect-src 'none'" in page
    # the episode text is in the JSON only as escapes: it cannot end the script element or add markup
    for text in ["<script>window.__pwned", "</script><script>window", "<img src=x onerror", "<b>bold?</b>", "<i>hostile</i>"]:
        assert text not in page
    assert len(re.findall(r"<script\b", page)) == 3 and len(re.findall(r"</script>", page)) == 3
    # the condition name is escaped in the server-written summary table
    assert "&lt;i&gt;hostile&lt;/i&gt;" in page


def test_script_json_round_trips_and_cannot_break_out() -> None:
    value = {"text": "</script><!-- <script> & \u2028 \ud800 end"}
    encoded = script_json(value)
    assert "<" not in encoded and ">" not in encoded and "&" not in encoded and "\u2028" not in encoded
    assert json.loads(encoded) == value


def test_the_config_in_the_report_is_redacted(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    run_experiment(hydra_config("experiment=single", "run.episodes=2", "run.progress=false", "run.report=false"), folder)
    assert not (folder / "report.html").exists()  # run.report=false turns it off
    hydra = folder / ".hydra"
    hydra.mkdir()
    key = "sk-" + "A1b2C3d4E5f6G7h8J9k0L1m2"
    (hydra / "config.yaml").write_text(f"agents:\n  solver_0:\n    name: llm\n    api_key: {key}\n    plain_secret: hunter2hunter2\n"
                                      "experiment:\n  name: single\n", encoding="utf-8")
    (hydra / "overrides.yaml").write_text("- agents.solver_0.plain_secret=hunter2hunter2\n- agents.solver_0.api_key=hunter2hunter2\n", encoding="utf-8")
    page = render_report(folder)
    assert key not in page and "hunter2hunter2" not in page
    assert "[redacted]" in page


def test_the_summary_has_bootstrap_intervals_over_episodes(run_folder: Path) -> None:
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    records = [r for r in records_of(run_folder) if r["condition"] == "critique"]
    values = [episode_value(r, "acc@5") for r in records]
    low, high = bootstrap_interval(values)
    mean = sum(values) / len(values)
    assert f"{mean:.3f} <span class=\"ci\">[{low:.3f}, {high:.3f}]</span>" in page
    assert bootstrap_interval(values) == (low, high)  # a fixed seed: the same interval every time
    assert "percentile bootstrap interval over episodes" in page


def test_outcomes_and_error_causes() -> None:
    assert outcome(hostile_record()) == "failed"
    assert outcome(errored_record()) == "errored"
    assert outcome({"metrics": {"solved": True}, "error": None}) == "solved"
    assert outcome({"metrics": {"deal_rate": 1.0}, "error": None}) == "ended"
    assert error_cause(errored_record()["error"]) == "RateLimitError (HTTP 429)"
    assert error_cause("Timeout: the server did not answer") == "Timeout"


def test_llm_accounting_counts_calls_tokens_cost_and_errors_by_cause(run_folder: Path) -> None:
    page = (run_folder / "report.html").read_text(encoding="utf-8")
    table = page.split('id="accounting"', 2)[2].split("</table>")[0]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    assert cells[:7] == ["broken", "solver_0", "openai/x", "1", "2", "0", "1"]  # condition, agent, model, episodes, calls, cached, failed
    assert cells[7:12] == ["100", "20", "0.001", "0.500", "0.500"]  # tokens in and out, cost, mean and p95 latency per call
    assert cells[-1] == "RateLimitError (HTTP 429): 1; episode: RateLimitError (HTTP 429): 1"


def test_a_training_folder_reports_seeds_and_learning_curves(tmp_path: Path) -> None:
    for condition, base in (("multi_turn", 0.9), ("single_turn", 0.6)):
        for seed in (1, 2):
            run = tmp_path / condition / f"seed{seed}"
            run.mkdir(parents=True)
            with (run / "solver_0.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["global_step", "charts/episodic_return", "metrics/solved"])
                for step in (64, 128, 192):
                    writer.writerow([step, base * step / 192, base * step / 192])
            episode = {"episode_id": f"{condition}/seed{seed}/0", "seed": 10000, "condition": condition, "env_id": "SolverFeedback-v0",
                       "metrics": {"solved": True, "cumulative_accuracy": [1.0]}, "returns": {"solver_0": 1.0}, "transcript": [], "error": None}
            (run / "episodes.jsonl").write_text(json.dumps(episode) + "\n", encoding="utf-8")
    with (tmp_path / "results_by_seed.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["condition", "seed", "acc@1"])
        writer.writerows([["multi_turn", 1, 0.5], ["multi_turn", 2, 0.7], ["single_turn", 1, 0.4], ["single_turn", 2, 0.4]])
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text(
        "env:\n  id: SolverFeedback-v0\n  kwargs: {max_turns: 5}\ntrain:\n  name: try_again\n  success_metric: solved\n  seeds: [1, 2]\n"
        "  summary: [acc@1]\n  conditions:\n    multi_turn: {train: {max_turns: 5}}\n    single_turn: {train: {max_turns: 1}}\n", encoding="utf-8")
    page = render_report(tmp_path)
    assert "interval over seeds" in page
    low, high = bootstrap_interval([0.5, 0.7])
    assert f"0.600 <span class=\"ci\">[{low:.3f}, {high:.3f}]</span>" in page
    assert page.count("during training") >= 2 and "success rate (training episodes) during training" in page
    assert page.count("<figure>") >= 2


def test_a_sweep_folder_labels_each_job_with_its_swept_values(tmp_path: Path) -> None:
    for job, turns in ((0, 2), (1, 3)):
        folder = tmp_path / str(job)
        (folder / ".hydra").mkdir(parents=True)
        overrides = f"- experiment=single\n- env.kwargs.max_turns={turns}\n- hydra.verbose=false\n"
        (folder / ".hydra" / "overrides.yaml").write_text(overrides, encoding="utf-8")
        record = {"episode_id": "default/0", "seed": 0, "condition": "default", "metrics": {"solved": bool(job)}, "transcript": [], "error": None}
        (folder / "episodes.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    page = write_report(tmp_path).read_text(encoding="utf-8")
    table = page.split('id="summary-0"')[1].split("</table>")[0] + page.split('id="summary-1"')[1].split("</table>")[0]
    # labelled by what differs between the jobs, not by what they share
    assert re.findall(r"<tr><td>(.*?)</td>", table) == ["env.kwargs.max_turns=2 · default", "env.kwargs.max_turns=3 · default"]
    assert "hydra.verbose" not in page


# ---------------------------------------------------------------------------------- terminal
def test_show_escapes_control_characters_and_marks_what_happened(run_folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = format_episode(hostile_record())
    assert "\x1b" not in text and "\u2028" not in text and "\\x1b[31mred" in text
    assert "[INVALID MOVE] (no answer <b>found</b>)" in text
    assert "[FEEDBACK] (level unary, verdict incorrect, DECEPTIVE)" in text
    assert "original (teacher_0):" in text and "shown (rewritten by FeedbackLevelWrapper):" in text
    assert terminal_safe("a\rb\x07c\u202ed\te\nf") == "a\\x0db\\x07c\\u202ed\te\nf"
    assert cli_main(["show", str(run_folder), "hostile/0"]) == 0
    out = capsys.readouterr().out
    assert "episode hostile/0" in out and "\x1b" not in out
    assert cli_main(["show", str(run_folder), "nope/9"]) == 2
    assert "no episode 'nope/9'" in capsys.readouterr().err


def test_report_command(run_folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["report", str(run_folder), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1000 and "wrote" in capsys.readouterr().out
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli_main(["report", str(empty)]) == 2
    assert "holds no episodes.jsonl" in capsys.readouterr().err


# --------------------------------------------------------------------------------- the browser
def _browser_or_skip():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (apt-get install chromium chromium-driver) to run the report in a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the browser tests drive Chromium with playwright (pip install -e '.[dev]')")
    return sync_api


@pytest.fixture(scope="module")
def browser(run_folder: Path) -> Iterator[object]:
    # run_folder first: playwright's sync API keeps an event loop running, inside which a run cannot start
    sync_api = _browser_or_skip()
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, run_folder: Path):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((run_folder / "report.html").as_uri())
    page.wait_for_selector("body[data-ready='1']")
    yield page
    assert not errors, errors
    page.close()


def wait_for_count(page, start: str) -> None:
    """The text search waits for typing to pause: wait until the count says ``start``."""
    from playwright.sync_api import expect

    expect(page.locator("#count")).to_have_text(re.compile("^" + re.escape(start)))


def list_ids(page) -> list[str]:
    return page.locator("#episode-list tbody tr td:first-child").all_text_contents()


def test_browser_the_table_shows_the_runs_numbers(page, run_folder: Path) -> None:
    with (run_folder / "results.csv").open(encoding="utf-8") as handle:
        expected = list(csv.DictReader(handle))
    headers = page.locator("#summary-0 thead th").all_text_contents()
    shown = {}
    for row in page.locator("#summary-0 tbody tr").all():
        cells = row.locator("td").all_text_contents()
        shown[cells[0]] = dict(zip(headers, cells))
    for row in expected:
        cells = shown[row["condition"]]
        assert cells["episodes"] == row["episodes"]
        for column in ("acc@1", "acc@5", "unique_answer_ratio"):
            assert cells[column].split(" ")[0] == f"{float(row[column]):.3f}"
            assert re.fullmatch(r"\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]", cells[column])
    assert HOSTILE_CONDITION in shown  # shown as text
    assert page.locator("#summary-0 i").count() == 0


def test_browser_filters_change_the_list(page, run_folder: Path) -> None:
    records = records_of(run_folder)
    assert page.locator("#count").text_content() == f"{len(records)} of {len(records)} episodes"
    page.select_option("#f-condition", "unary")
    assert list_ids(page) == [f"unary/{i}" for i in range(4)]
    page.select_option("#f-condition", "")
    page.select_option("#f-outcome", "errored")
    assert list_ids(page) == ["broken/0"]
    page.select_option("#f-outcome", "failed")
    failed = [r["episode_id"] for r in records if r["error"] is None and r["metrics"].get("solved") is False]
    assert list_ids(page) == failed and "hostile/0" in failed
    page.select_option("#f-outcome", "")
    page.select_option("#f-metric", "attempts")
    page.fill("#f-min", "2")
    page.fill("#f-max", "3")
    assert list_ids(page) == [r["episode_id"] for r in records if 2 <= (r["metrics"].get("attempts") or 0) <= 3]
    page.click("#f-reset")
    page.fill("#f-text", "ONERROR")
    wait_for_count(page, "1 of")
    assert list_ids(page) == ["hostile/0"]


def test_browser_an_episode_shows_every_turn_and_the_rewritten_feedback(page, run_folder: Path) -> None:
    record = next(r for r in records_of(run_folder) if r["condition"] == "critique" and len(r["transcript"]) > 4)
    page.select_option("#f-condition", "critique")
    page.locator("#episode-list tbody tr", has_text=record["episode_id"]).first.click()
    assert page.locator("#episode h3").text_content() == f"Episode {record['episode_id']}"
    messages = page.locator("#conversation .msg")
    assert messages.count() == len(record["transcript"])
    for index, message in enumerate(record["transcript"]):
        box = messages.nth(index)
        assert f"kind-{message['kind']}" in box.get_attribute("class")
        assert f"turn {message['turn']} · {message['sender']}" in box.locator(".head").text_content()
    rewritten = [m for m in record["transcript"] if m["kind"] == "feedback" and "original" in m["data"]]
    assert rewritten, "the unary wrapper rewrites the critique"
    pair = page.locator("#conversation .rewrite").first
    assert pair.locator(".original .text").text_content() == rewritten[0]["data"]["original"]["text"]
    assert pair.locator(".shown .text").text_content() == rewritten[0]["text"]


def test_browser_hostile_text_is_shown_as_text_and_runs_nothing(page) -> None:
    title = page.title()
    page.select_option("#f-condition", HOSTILE_CONDITION)
    page.locator("#episode-list tbody tr").first.click()
    texts = page.locator("#conversation .text").all_text_contents()
    for hostile in HOSTILE_TEXTS:
        assert hostile in texts
    assert page.locator("#conversation .badge.invalid").count() == 1 and page.locator("#conversation .badge.notice").count() == 1
    assert page.locator("#conversation .badge.deceptive").count() == 1
    assert "no answer <b>found</b>" in page.locator("#conversation .kind-invalid .head").text_content()
    # nothing ran and no element came from episode text
    assert page.evaluate("window.__pwned") is None
    assert page.title() == title
    assert page.locator("#episode script, #episode img, #episode b, #episode a, #episode i").count() == 0
    assert page.locator("img:not([src^='data:image/png;base64,'])").count() == 0


def test_browser_ten_thousand_episodes_page_through(browser, tmp_path: Path) -> None:
    lines = []
    for i in range(10_000):
        record = {"episode_id": f"c{i % 4}/{i}", "seed": i, "condition": f"c{i % 4}", "env_id": "SolverFeedback-v0", "steps": 2,
                  "metrics": {"solved": i % 3 == 0, "attempts": 1 + i % 5}, "returns": {"solver_0": 1.0}, "error": None,
                  "transcript": [{"index": 0, "turn": 0, "sender": "solver_0", "visible_to": ["solver_0"], "kind": "move",
                                  "text": f"answer {i} " + "x" * 200, "data": {}}]}
        lines.append(json.dumps(record))
    (tmp_path / "episodes.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = write_report(tmp_path)
    page = browser.new_page()
    page.goto(report.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#episode-list tbody tr").count() == 50  # only the visible page is rendered
    assert page.locator("#count").text_content() == "10000 of 10000 episodes"
    page.click("#next")
    assert list_ids(page)[0] == "c2/50"
    page.fill("#f-text", "answer 9999 ")
    wait_for_count(page, "1 of")
    page.locator("#episode-list tbody tr").first.click()
    assert page.locator("#conversation .msg").count() == 1
    page.close()
