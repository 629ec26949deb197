"""Every plot the project makes says what it shows: title naming the run, axes in words, intervals
explained in the legend, the legend off the data, no value hidden by the axis limits (issue 14)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from feedbackgym.experiments.evaluate import plot_context, plot_run
from feedbackgym.experiments.plots import describe_column, plot_experiment, plot_learning_curves, run_title

CONTEXT = {"env": "SolverFeedback-v0", "task": "arithmetic", "wrapper": "none", "episodes": 20, "seed": 0}


def lines_with_data(axis) -> list:
    return [line for line in axis.get_lines() if len(line.get_xdata()) > 0]


def legend_texts(figure) -> list[str]:
    legends = list(figure.legends) + [axis.get_legend() for axis in figure.axes if axis.get_legend() is not None]
    return [text.get_text() for legend in legends for text in legend.get_texts()]


def assert_legend_outside_the_axes(figure) -> None:
    """The legend is the figure's, placed to the right of every axis: it cannot cover data."""
    assert not any(axis.get_legend() for axis in figure.axes), "a legend inside an axis covers data"
    assert len(figure.legends) == 1
    figure.canvas.draw()
    legend_box = figure.legends[0].get_window_extent()
    for axis in figure.axes:
        if axis.get_visible():
            assert legend_box.x0 >= axis.get_window_extent().x1 - 1


def ladder_rows() -> list[dict]:
    rows = []
    for index, condition in enumerate(["none", "unary", "binary", "critique"]):
        # unary and binary are equal everywhere: both must stay visible
        level = min(index, 1) if condition != "critique" else 2
        rows.append({"condition": condition, **{f"acc@{k}": min(1.0, 0.4 + 0.05 * k * (1 + level)) for k in range(1, 11)}})
    return rows


def test_the_feedback_ladder_plot_names_the_run_and_shows_every_series(tmp_path: Path) -> None:
    rows = ladder_rows()
    intervals = {f"acc@{k}": {row["condition"]: (row[f"acc@{k}"] - 0.1, min(1.0, row[f"acc@{k}"] + 0.1)) for row in rows} for k in range(1, 11)}
    figure = plot_experiment("feedback_ladder", rows, tmp_path / "ladder.png", context=CONTEXT, intervals=intervals)
    assert (tmp_path / "ladder.png").stat().st_size > 1000
    title = figure._suptitle.get_text()
    for part in ("feedback_ladder", "SolverFeedback-v0", "task arithmetic", "wrapper none", "20 episodes per condition", "seeds 0-19"):
        assert part in title
    (axis,) = figure.axes
    assert axis.get_xlabel() == "attempts k"
    assert axis.get_ylabel() == "cumulative accuracy (solved within k attempts)"  # words, not the column acc@k
    assert axis.get_ylim()[1] > 1.0 and axis.get_ylim()[0] < 0.0  # points at 0 and 1 are drawn whole
    assert [t for t in legend_texts(figure)] == ["none", "unary", "binary", "critique", "bars: 95% bootstrap interval over episodes"]
    assert_legend_outside_the_axes(figure)
    drawn = lines_with_data(axis)
    assert len(drawn) == 4
    # unary and binary have equal values: their points are apart, and they differ in marker and line style
    unary, binary = drawn[1], drawn[2]
    assert list(unary.get_ydata()) == list(binary.get_ydata())
    assert all(a != b for a, b in zip(unary.get_xdata(), binary.get_xdata()))
    assert (unary.get_marker(), unary.get_linestyle()) != (binary.get_marker(), binary.get_linestyle())
    assert [int(t) for t in axis.get_xticks()] == list(range(1, 11))


def test_the_deceptive_judge_grid_is_faceted_with_one_legend() -> None:
    conditions = ["/".join(parts) for parts in itertools.product(["non_reasoning", "reasoning"], ["constructive", "hypercritical", "malicious"],
                                                                 ["none", "parametric", "grounded"])]
    rows = [{"condition": c, **{f"flip_ci@{k}": 0.1 * k * (i % 3) / 3 for k in range(1, 6)},
             **{f"recovery_ic@{k}": 0.2 * k / (1 + i % 4) for k in range(1, 6)}} for i, c in enumerate(conditions)]
    figure = plot_experiment("deceptive_judge", rows, series=["flip_ci", "recovery_ic"], xlabel="round of feedback",
                             ylabel=["c->i flip rate (initially correct)", "recovery rate (initially wrong)"], ylim=[(0, 1), (0, 1)],
                             context={**CONTEXT, "env": "DeceptiveJudge-v0", "task": "knowledge_mcq"})
    assert len(figure.axes) == 4  # one row of panels per solver preset, one column per metric
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["non_reasoning · c->i flip rate (initially correct)", "non_reasoning · recovery rate (initially wrong)",
                      "reasoning · c->i flip rate (initially correct)", "reasoning · recovery rate (initially wrong)"]
    for axis in figure.axes:
        drawn = lines_with_data(axis)
        assert len(drawn) == 9
        assert len({line.get_color() for line in drawn}) == 3  # colour: the judge's intent (strong tab10 colours)
        assert len({(line.get_marker(), line.get_linestyle()) for line in drawn}) == 3  # style: its knowledge
        assert axis.get_xlabel() == "round of feedback"
    texts = legend_texts(figure)
    assert texts == ["…/constructive/…", "…/hypercritical/…", "…/malicious/…", "…/…/none", "…/…/parametric", "…/…/grounded"]
    assert_legend_outside_the_axes(figure)


def test_no_value_is_hidden_outside_a_configured_range() -> None:
    rows = [{"condition": "critic", "deal_price@1": 8.0, "deal_price@2": 21.5}, {"condition": "none", "deal_price@1": 15.0, "deal_price@2": 15.0}]
    figure = plot_experiment("negotiation_selfplay", rows, series="deal_price", xlabel="game", ylabel="mean deal price ($)", ylim=(10, 20))
    low, high = figure.axes[0].get_ylim()
    assert low < 8.0 and high > 21.5
    assert figure.axes[0].get_ylabel() == "mean deal price ($)"


def test_try_again_bars_put_each_quantity_on_its_own_axis_unclipped() -> None:
    rows = [{"condition": "multi_turn", "acc@1": 0.58, "acc@5": 1.0, "unique_answer_ratio": 0.998, "repeated_one_answer": 0.0},
            {"condition": "single_turn", "acc@1": 0.58, "acc@5": 0.68, "unique_answer_ratio": 0.73, "repeated_one_answer": 0.77}]
    intervals = {"acc@5": {"multi_turn": (0.99, 1.0), "single_turn": (0.6, 0.75)}}
    figure = plot_experiment("try_again: evaluation", rows, columns=["acc@1", "acc@5", "unique_answer_ratio", "repeated_one_answer"],
                             ylabel="rate", ylim=(0, 1), context={**CONTEXT, "seeds": [1, 2, 3]}, intervals=intervals,
                             interval_label="95% bootstrap interval over training seeds")
    visible = [axis for axis in figure.axes if axis.get_visible()]
    # first-attempt and within-5 success are different quantities: separate axes, each labelled in words
    assert [axis.get_ylabel() for axis in visible] == ["solved at the first attempt", "solved within 5 attempts", "unique-answer ratio",
                                                       "failures that repeat one answer"]
    for axis in visible:
        assert axis.get_ylim()[1] > 1.0  # a bar at 1.0 is not cut by the frame
        assert axis.get_xlabel() == "condition"
        assert [t.get_text() for t in axis.get_xticklabels()] == ["multi_turn", "single_turn"]
    assert "training seeds 1, 2, 3" in figure._suptitle.get_text()
    assert legend_texts(figure) == ["whiskers: 95% bootstrap interval over training seeds"]
    assert_legend_outside_the_axes(figure)


def test_one_family_of_columns_shares_an_axis_with_a_legend_in_words() -> None:
    rows = [{"condition": c, "reward_stage1": v, "reward_refine_only": v / 2, "reward_stage2": -v, "reward_refcritic": 1.0}
            for c, v in (("oracle", 1.0), ("random", 0.1))]
    figure = plot_experiment("critic_training_rewards", rows, columns=["reward_stage1", "reward_refine_only", "reward_stage2", "reward_refcritic"],
                             ylabel="mean critic reward", ylim=None)
    (axis,) = figure.axes
    assert axis.get_ylabel() == "mean critic reward"
    assert legend_texts(figure) == ["Critique-RL stage I reward", "refinement-only reward", "Critique-RL stage II reward", "RefCritic dual reward"]
    low, high = axis.get_ylim()
    assert low < -1.0 and high > 1.0
    assert_legend_outside_the_axes(figure)


def test_learning_curves_explain_the_band_and_separate_what_differs(tmp_path: Path) -> None:
    steps = [64.0, 128.0, 192.0]
    curves = {"multi_turn": [(steps, [0.5, 0.7, 0.9]), (steps, [0.4, 0.6, 0.95])], "single_turn": [(steps, [0.2, 0.3, 0.5])]}
    panels = {"multi_turn": "trained on episodes of 5 turns", "single_turn": "trained on episodes of 1 turn"}
    figure = plot_learning_curves(curves, tmp_path / "curves.png", title="try_again", ylabel="metrics/solved", threshold=0.8,
                                  context={"env": "SolverFeedback-v0", "task": "knowledge_mcq", "wrapper": "none", "seeds": [1, 2]}, panels=panels)
    assert (tmp_path / "curves.png").stat().st_size > 1000
    assert [axis.get_title() for axis in figure.axes] == ["trained on episodes of 5 turns", "trained on episodes of 1 turn"]
    for axis in figure.axes:
        assert axis.get_ylabel() == "success rate (training episodes)"
        assert axis.get_xlabel() == "environment steps"
    title = figure._suptitle.get_text()
    assert "try_again: learning curves" in title and "SolverFeedback-v0" in title and "training seeds 1, 2" in title
    assert legend_texts(figure) == ["multi_turn (mean of 2 seeds)", "success threshold 0.8", "single_turn (1 seed)", "shaded: min-max over seeds"]
    assert_legend_outside_the_axes(figure)


def test_columns_are_described_in_words() -> None:
    assert describe_column("acc@1") == "solved at the first attempt"
    assert describe_column("acc@5") == "solved within 5 attempts"
    assert describe_column("return/seller_0") == "mean return of seller_0"
    assert describe_column("charts/episodic_return") == "episode return"
    assert describe_column("love@1-5") == "love@1-5".split("@")[0] + ", entries 1-5"


def test_a_sweep_job_is_titled_with_its_swept_values() -> None:
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=["run.episodes=4", "run.seed=3", "env.kwargs.max_turns=5", "run.progress=false",
                                                       "wrapper=unary"], return_hydra_config=True)
    context = plot_context(cfg)
    assert context["overrides"] == ["env.kwargs.max_turns=5", "wrapper=unary"]  # presentation and run size are not sweep values
    title = run_title("feedback_ladder", context)
    assert "SolverFeedback-v0" in title and "wrapper unary" in title and "4 episodes per condition, seeds 3-6" in title
    assert title.endswith("overrides: env.kwargs.max_turns=5 wrapper=unary")


def test_a_run_plot_has_bootstrap_intervals_over_its_episodes(tmp_path: Path) -> None:
    from feedbackgym.experiments.runner import aggregate

    records = [{"episode_id": f"{c}/{i}", "condition": c, "error": None, "metrics": {"cumulative_accuracy": [float(i % 2), 1.0]}}
               for c in ("a", "b") for i in range(10)]
    with initialize_config_module(config_module="feedbackgym.conf.run", version_base="1.3"):
        cfg = compose(config_name="config", overrides=["run.episodes=10"], return_hydra_config=True)
    figure = plot_run(cfg, "feedback_ladder", aggregate(records), records, tmp_path / "plot.png")
    assert "bars: 95% bootstrap interval over episodes" in legend_texts(figure)
    assert "10 episodes per condition, seeds 0-9" in figure._suptitle.get_text()


@pytest.mark.parametrize("rows", [[{"condition": "default", "return/solver_0": 0.5, "return/teacher_0": 1.0}]])
def test_without_a_curve_the_mean_returns_are_bars_in_words(rows) -> None:
    figure = plot_experiment("single", rows, context=CONTEXT)
    (axis,) = figure.axes
    assert axis.get_ylabel() == "mean return"
    assert legend_texts(figure) == ["mean return of solver_0", "mean return of teacher_0"]
    assert "SolverFeedback-v0" in figure._suptitle.get_text()
