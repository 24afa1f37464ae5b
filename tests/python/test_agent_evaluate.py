"""The agent task's evaluation harness (`tasks/agent/evaluate.py`) and the `tat agent` commands.

The oracle, run through the harness as if it were a model, must score 100% on every question of
every registered framework, a skill of 1 and centre errors of 0 on every picture framework, and
reach the gold in at least 95% of closed-loop episodes on bare scenes (as often, and in as many
moves, as `Scenes.steps_to_gold`); the majority policy must score exactly the baseline where its
training majority is the held-out majority, and a skill of 0 (it copies the input); a policy that
answers nonsense scores 0.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tiny_agent_trainer.cli import main
from tiny_agent_trainer.tasks.agent import evaluate, game, render
from tiny_agent_trainer.tasks.agent.frameworks import base

N = 200
EPISODES = 200
SIZE = 64


@pytest.fixture(scope="module")
def settings(agent_visits: str) -> dict[str, list[str]]:
    """visited_qa's recorded states: with them every framework is scored."""
    return {"visits": [agent_visits]}


@pytest.fixture(scope="module")
def frameworks(settings: dict[str, list[str]]) -> dict[str, base.Framework]:
    return {name: base.get(name, settings) for name in base.names()}


@pytest.fixture(scope="module")
def oracle_report(settings: dict[str, list[str]]) -> evaluate.Report:
    return evaluate.evaluate(evaluate.oracle, n=N, size=SIZE, episodes=EPISODES, settings=settings)


@pytest.fixture(scope="module")
def majority(settings: dict[str, list[str]]) -> evaluate.MajorityPolicy:
    return evaluate.MajorityPolicy(n=600, settings=settings)


@pytest.fixture(scope="module")
def majority_report(majority: evaluate.MajorityPolicy, settings: dict[str, list[str]]) -> evaluate.Report:
    return evaluate.evaluate(majority, n=N, size=SIZE, episodes=20, steps=20, settings=settings)


def question_frameworks(frameworks: dict[str, base.Framework]) -> list[str]:
    return [name for name, f in frameworks.items() if f.questions]


# --- the oracle -------------------------------------------------------------------------------


def test_every_framework_is_scored(frameworks: dict[str, base.Framework], oracle_report: evaluate.Report) -> None:
    assert frameworks, "no framework registered"
    asked = {(s.framework, s.question) for s in oracle_report.questions}
    pictured = {s.framework for s in oracle_report.images}
    for name, framework in frameworks.items():
        assert {(name, q.name) for q in framework.questions} <= asked, name
        assert framework.questions or name in pictured, f"{name} asks no question and draws no picture"
    assert all(s.n > 0 for s in oracle_report.questions)
    assert sum(s.n for s in oracle_report.images) == N * len(pictured)


def test_the_oracle_answers_every_question_right(oracle_report: evaluate.Report) -> None:
    for s in oracle_report.questions:
        assert (s.accuracy, s.balanced_accuracy) == (1.0, 1.0), (s.framework, s.question)
        assert s.baseline == max(s.counts) / sum(s.counts)


def test_the_oracle_draws_every_target(oracle_report: evaluate.Report) -> None:
    for s in oracle_report.images:
        assert s.mse == 0.0, s.framework
        assert s.skill == 1.0 or (math.isnan(s.skill) and s.copy_mse == 0.0), s.framework
        assert s.objects == 1.0, s.framework
        for o in evaluate.OBJECTS:
            assert s.centre_error[o] == 0.0 or math.isnan(s.centre_error[o]), (s.framework, o)
            assert s.missing[o] == 0.0 or math.isnan(s.missing[o]), (s.framework, o)
        if s.framework == "complex_loss_v1":  # its own score: the share of right pictures
            assert s.score == {"score": 1.0} and s.copy_score == {"score": 0.0}
        if s.framework == "arrow_to_gold":  # the line's angle: a copy draws none (180 deg)
            assert s.score is not None and s.copy_score == {"median_angle_error_deg": 180.0, "line_drawn": 0.0}
            assert s.score["median_angle_error_deg"] < 3.0 and s.score["line_drawn"] == 1.0


def test_the_oracle_reaches_the_gold_in_the_closed_loop(oracle_report: evaluate.Report) -> None:
    loops = {s.kind: s for s in oracle_report.closed_loop}
    assert set(loops) == set(evaluate.LOOP_KINDS)
    for s in loops.values():  # full scenes: round the interior walls (`Scenes.steer`)
        assert s.episodes == EPISODES
        assert s.success >= 0.95, s.kind
        assert s.invalid == 0.0
    for s in loops.values():  # the best-move question's oracle is the game's
        assert (s.success, s.mean_steps) == (s.oracle_success, s.oracle_mean_steps), s.kind


def test_the_move_question_names_each_move_once() -> None:
    q = evaluate.move_question()
    framework = base.get(q.framework)
    classes = next(x for x in framework.questions if x.name == q.question).classes
    assert sorted(q.moves) == [game.FORWARD, game.CLOCKWISE, game.ANTICLOCKWISE]
    assert len(classes) == 3


class FixedMistakes:
    """Scores the oracle's best move first, except in a fixed share of states (a hash of the
    picture, so of the place and heading) where another move comes first: a greedy model's
    errors, the same at every visit. `remember_moves` as `AgentModel`'s."""

    def __init__(self, remember_moves: bool, share: float = 0.3) -> None:
        self.remember_moves, self.share = remember_moves, share
        self.question = evaluate.move_question()
        self.classes = next(q for q in base.get(self.question.framework).questions if q.name == self.question.question).classes

    def move_scores(self, batch: base.Batch, question: evaluate.MoveQuestion) -> np.ndarray:
        assert question == self.question
        scores = np.zeros((len(batch), len(self.classes)))
        for i, (image, label) in enumerate(zip(batch.image, batch.label)):
            h = int.from_bytes(hashlib.sha256(image.tobytes()).digest()[:8], "little")
            scores[i, label] = 2.0
            if h % 1000 < self.share * 1000:  # this state's mistake: a wrong move first
                scores[i, (label + 1 + (h >> 20) % 2) % 3] = 3.0
        return scores

    def __call__(self, batch: base.Batch) -> evaluate.Prediction:
        best = self.move_scores(batch, self.question).argmax(axis=1)
        return evaluate.Prediction([self.classes[c] for c in best])


def test_remembering_the_moves_made_where_it_stands_breaks_a_greedy_policys_traps() -> None:
    scenes = game.make_scenes(40, 5, "full", solvable=True)
    rng = lambda: np.random.default_rng(0)  # noqa: E731
    greedy = evaluate.play(FixedMistakes(False), scenes, 100, rng(), 32)
    remembered = evaluate.play(FixedMistakes(True), scenes, 100, rng(), 32, record=True)
    # Fixed mistakes in 30% of the states trap most greedy games; the memory wins most of them.
    assert greedy.success.mean() < 0.5 and remembered.success.mean() >= greedy.success.mean() + 0.3
    assert remembered.invalid == 0 and remembered.asked > 0
    # Where a game stands again, a move it made there gives way to one it did not (until it
    # made all three there once, and so on).
    for i in range(len(scenes)):
        made: dict[tuple[float, ...], list[int]] = {}
        for before, moves in remembered.history:
            if moves[i] < 0:
                continue
            here = made.setdefault(evaluate.state_keys(before.select([i]))[0], [])
            counts = np.bincount(here, minlength=3)
            assert counts[moves[i]] == counts.min(), (i, here, moves[i])
            here.append(int(moves[i]))


def test_a_state_key_is_the_place_and_heading_and_turning_back_returns_to_it() -> None:
    scenes = game.make_scenes(6, 2, "full")
    start = evaluate.state_keys(scenes)
    there = scenes.copy()
    for move in (game.CLOCKWISE,) * 5 + (game.ANTICLOCKWISE,) * 5:
        there.move(np.full(len(there), move))
    assert evaluate.state_keys(there) == start
    turned = scenes.copy()
    turned.move(np.full(len(turned), game.CLOCKWISE))
    assert all(a != b for a, b in zip(evaluate.state_keys(turned), start))
    # A full turn (60 turns of 6 degrees) is the same heading, however the float lands near 0 / 2 pi.
    around = scenes.copy()
    for _ in range(int(round(2 * math.pi / game.TURN))):
        around.move(np.full(len(around), game.ANTICLOCKWISE))
    assert evaluate.state_keys(around) == start


def test_least_made_picks_the_likeliest_of_the_moves_made_fewest_times() -> None:
    scores = np.array([[0.1, 0.7, 0.2], [0.1, 0.7, 0.2], [0.1, 0.7, 0.2], [0.5, 0.5, 0.0]])
    counts = np.array([[0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
    assert evaluate.least_made(scores, counts).tolist() == [1, 2, 2, 0]


def test_the_report_prints_and_serialises(oracle_report: evaluate.Report) -> None:
    table = oracle_report.table()
    for s in oracle_report.questions:
        assert s.question in table
    assert "closed loop" in table
    data = json.loads(oracle_report.to_json())
    assert data["policy"] == "oracle" and len(data["questions"]) == len(oracle_report.questions)


# --- the majority and other policies ----------------------------------------------------------


def test_the_majority_policy_scores_the_baseline(
    frameworks: dict[str, base.Framework], majority: evaluate.MajorityPolicy, majority_report: evaluate.Report
) -> None:
    matched = 0
    for s in majority_report.questions:
        framework = frameworks[s.framework]
        q = [x.name for x in framework.questions].index(s.question)
        if s.counts[majority.classes(framework)[q]] == max(s.counts):
            matched += 1
            assert s.accuracy == pytest.approx(s.baseline), (s.framework, s.question)
            assert s.balanced_accuracy == pytest.approx(1 / sum(c > 0 for c in s.counts))
        else:
            assert s.accuracy < s.baseline
    assert matched >= len(majority_report.questions) / 2


def test_a_copy_of_the_input_has_no_skill(majority_report: evaluate.Report) -> None:
    for s in majority_report.images:
        assert s.mse == s.copy_mse
        assert s.skill == 0.0 or (math.isnan(s.skill) and s.copy_mse == 0.0), s.framework
        assert str(s.centre_error) == str(s.copy_centre_error)  # (NaN where no target shows the object)
        assert s.objects == s.copy_objects


def test_the_majority_uses_its_own_training_stream() -> None:
    draws = [
        g.random(4).tolist()
        for g in (
            evaluate.stream(evaluate.HELDOUT, 0, "x"),
            evaluate.stream(evaluate.TRAIN_SAMPLE, 0, "x"),
            evaluate.stream(evaluate.HELDOUT, 0, "y"),
            evaluate.stream(evaluate.HELDOUT, 1, "x"),
            np.random.default_rng(0),
        )
    ]
    assert len({tuple(d) for d in draws}) == len(draws)
    assert evaluate.stream(evaluate.HELDOUT, 0, "x").random() == draws[0][0]


def _nonsense(batch: base.Batch) -> evaluate.Prediction:
    images = None if batch.target is None else np.zeros_like(batch.target)
    return evaluate.Prediction(["banana"] * len(batch), images)


def test_nonsense_scores_nothing(frameworks: dict[str, base.Framework], settings: dict[str, list[str]]) -> None:
    names = question_frameworks(frameworks)
    report = evaluate.evaluate(_nonsense, names, n=60, size=SIZE, episodes=10, steps=5, settings=settings)
    assert report.questions and all(s.accuracy == 0.0 == s.balanced_accuracy for s in report.questions)
    assert all(s.success == 0.0 and s.invalid == 1.0 for s in report.closed_loop)


def test_answers_are_normalised(frameworks: dict[str, base.Framework]) -> None:
    name = question_frameworks(frameworks)[0]

    def bare_answers(batch: base.Batch) -> evaluate.Prediction:
        return evaluate.Prediction([f"  {evaluate.normalise(a)} " for a in batch.answer])

    report = evaluate.evaluate(bare_answers, [name], n=60, size=SIZE, closed_loop=False)
    assert all(s.accuracy == 1.0 for s in report.questions)
    assert evaluate.normalise(base.answer_text("Yes")) == "Yes"
    assert evaluate.normalise("Yes<eos>") == "Yes" and evaluate.normalise("yes") == "yes"


def test_pictures_of_the_wrong_shape_are_refused(oracle_report: evaluate.Report) -> None:
    if not oracle_report.images:
        pytest.skip("no picture framework registered")
    name = oracle_report.images[0].framework

    def small(batch: base.Batch) -> evaluate.Prediction:
        assert batch.target is not None
        return evaluate.Prediction(list(batch.answer), batch.target[:, ::2, ::2])

    with pytest.raises(ValueError, match="expected uint8"):
        evaluate.evaluate(small, [name], n=4, size=SIZE, closed_loop=False)


def test_the_arrow_score_measures_the_angle_of_the_line_drawn() -> None:
    from tiny_agent_trainer.tasks.agent.frameworks import arrow_to_gold

    framework = base.get("arrow_to_gold")
    batch = framework.make(64, np.random.default_rng(0), 96)
    scenes = batch.scenes
    length = np.maximum(scenes.gold_distance().min(axis=1) - game.AGENT_R - game.GOLD_R, 0.0) + 0.2
    turned = render.render(scenes, 96, line=(scenes.gold_angle() + np.radians(10.0), length))
    error = arrow_to_gold.score(turned, batch)["median_angle_error_deg"]
    assert np.all(np.abs(error - 10.0) < 2.0), error
    right = arrow_to_gold.score(batch.target, batch)["median_angle_error_deg"]
    assert np.median(right) < 1.0 and np.all(right < 5.0), right
    none = arrow_to_gold.score(batch.image, batch)
    assert np.all(none["median_angle_error_deg"] == 180.0) and not none["line_drawn"].any()


def test_palette_indices_map_to_the_nearest_colour() -> None:
    from tiny_agent_trainer.tasks.agent import render

    scenes = game.make_scenes(3, 0)
    indices = render.render_indices(scenes, 32)
    pictures = render.render(scenes, 32).astype(np.int16)
    noisy = np.clip(pictures + np.random.default_rng(0).integers(-30, 31, pictures.shape), 0, 255).astype(np.uint8)
    assert (render.palette_indices(noisy) == indices).all()


# --- the commands -----------------------------------------------------------------------------


def tat(*args: str | Path) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_agent_show_draws_a_png(frameworks: dict[str, base.Framework], tmp_path: Path) -> None:
    pictured = [n for n, f in frameworks.items() if not f.questions][:1]
    for name in question_frameworks(frameworks)[:1] + pictured:
        out = tmp_path / f"{name}.png"
        assert tat("agent", "show", "--framework", name, "-n", "2", "--size", "48", "--out", out) == f"wrote {out}\n"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_agent_show_refuses_an_unknown_framework(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["agent", "show", "--framework", "nope", "--out", str(tmp_path / "x.png")])
    assert result.exit_code == 2
    assert "unknown framework 'nope'" in result.output
    assert not (tmp_path / "x.png").exists()


def test_agent_episode_writes_a_gif(tmp_path: Path) -> None:
    from PIL import Image, ImageSequence

    out = tmp_path / "episode.gif"
    text = tat("agent", "episode", "--policy", "oracle", "--steps", "8", "--size", "48", "--out", out)
    assert text.startswith("oracle: ") and text.endswith(f"wrote {out}\n")
    with Image.open(out) as gif:
        assert sum(1 for _ in ImageSequence.Iterator(gif)) >= 2 and gif.size == (144, 144 + 14)


def test_agent_eval_prints_the_table(frameworks: dict[str, base.Framework]) -> None:
    name = question_frameworks(frameworks)[0]
    table = tat("agent", "eval", "--policy", "oracle", "-n", "50", "--framework", name, "--episodes", "20")
    assert table.startswith("policy oracle: 50 held-out examples")
    rows = [line for line in table.splitlines() if line.startswith(name)]
    assert rows and all(line.split()[3] == "100.0%" for line in rows)
    assert "closed loop" in table
    data = json.loads(tat("agent", "eval", "--policy", "majority", "-n", "20", "--framework", name, "--episodes", "0", "--json"))
    assert data["policy"] == "majority" and data["closed_loop"] == []
    # Picking a framework without --episodes scores that framework alone.
    data = json.loads(tat("agent", "eval", "--policy", "majority", "-n", "20", "--framework", name, "--json"))
    assert data["closed_loop"] == [] and data["questions"]
    result = CliRunner().invoke(main, ["agent", "eval", "--framework", "nope"])
    assert result.exit_code == 2 and "unknown framework" in result.output
