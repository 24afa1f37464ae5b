"""The states a policy visits in closed-loop games (`tasks/agent/visits.py`, `tat agent visits`)
and visited_qa, which asks the oracle's best move about them (DAgger): what is recorded, the
file and its errors, the split into trained and held-out games, the mixer's check and the CLI."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tiny_agent_trainer._core import FileError
from tiny_agent_trainer.cli import main
from tiny_agent_trainer.tasks.agent import evaluate, game, visits
from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.frameworks.base import answer_text
from tiny_agent_trainer.tasks.agent.frameworks.relposition_qa import RelPositionQA
from tiny_agent_trainer.tasks.agent.mixing import Mixer


def keys(scenes: game.Scenes, number: np.ndarray) -> set[tuple[float, ...]]:
    return {(int(g), *a, h) for g, a, h in zip(number, scenes.agent.tolist(), scenes.heading.tolist())}


def always(move: int) -> evaluate.Policy:
    """A policy that always answers the same move (forward: into a wall, then stuck there)."""

    def policy(batch: base.Batch) -> evaluate.Prediction:
        return evaluate.Prediction([answer_text(game.MOVES[move])] * len(batch))

    return policy


def test_a_record_keeps_every_state_before_a_move_of_a_running_game_once() -> None:
    kind, seed, steps = "full", 4, 30
    recorded = visits.record(always(game.FORWARD), 16, seed, kind, steps, 16, "forward")
    # The same games played here: the states before each move while the game ran.
    scenes = game.make_scenes(16, evaluate.stream(visits.VISITS, seed, kind), kind, solvable=True)
    played = evaluate.play(always(game.FORWARD), scenes, steps, np.random.default_rng(0), 16, record=True)
    expected: set[tuple[float, ...]] = set()
    for t, (before, _) in enumerate(played.history, start=1):
        running = np.nonzero(played.steps >= t)[0]
        expected |= keys(before.select(running), running)
    assert keys(recorded.scenes, recorded.game) == expected
    assert len(recorded) == len(expected) < sum(min(int(s), steps) for s in played.steps)  # stuck states once
    assert np.array_equal(recorded.won, played.success[recorded.game])
    assert recorded.scenes.has_gold().all() and set(recorded.game.tolist()) == set(range(16))
    # The scenes are the VISITS stream's, not the harness's closed-loop scenes.
    harness = game.make_scenes(16, evaluate.stream(evaluate.EPISODES, seed, kind), kind, solvable=True)
    assert not np.array_equal(harness.agent, scenes.agent)


def test_visits_save_and_load_exactly_and_a_bad_file_names_itself_and_the_fix(agent_visits: str, tmp_path: Path) -> None:
    v = visits.load(agent_visits)
    assert len(v) > 24 and v.won.all() and v.policy == "oracle"
    copy = visits.save(v, tmp_path / "copy.npz")
    w = visits.load(copy)
    for field in ("agent", "heading", "walls", "gold"):
        assert np.array_equal(getattr(w.scenes, field), getattr(v.scenes, field), equal_nan=True)
    assert np.array_equal(w.game, v.game) and np.array_equal(w.won, v.won)
    with pytest.raises(FileError, match=r"suffix \.npz"):
        visits.save(v, tmp_path / "copy.bin")
    with pytest.raises(FileError, match=r"absent\.npz.*Fix: record the states first \(tat agent visits"):
        visits.load(tmp_path / "absent.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(Path(copy).read_bytes()[:100])
    with pytest.raises(FileError, match=r"bad\.npz: not a visits file.*Fix: record it again"):
        visits.load(bad)
    arrays = dict(np.load(copy))
    for change, message in [
        ({"format": np.int64(9)}, "format"),
        ({"walls": arrays["walls"][:, :3]}, "'walls' has shape"),
        ({"gold": np.full_like(arrays["gold"], np.nan)}, "no gold left"),
    ]:
        np.savez(bad, **{**arrays, **change})
        with pytest.raises(FileError, match=message):
            visits.load(bad)
    del arrays["game"]
    np.savez(bad, **arrays)
    with pytest.raises(FileError, match="'game' is missing"):
        visits.load(bad)
    assert zipfile.is_zipfile(copy)


def test_visited_qa_asks_the_best_move_about_recorded_states_of_its_split(agent_visits: str) -> None:
    v = visits.load(agent_visits)
    trained = base.get("visited_qa", {"visits": [agent_visits]})
    held_out = base.get("visited_qa", {"visits": [agent_visits], "held_out": True})
    assert [q.name for q in trained.questions] == ["best_move"]
    assert trained.questions[0] is next(q for q in RelPositionQA.questions if q.name == "best_move")
    b = trained.make(200, np.random.default_rng(0), 16)
    assert np.array_equal(b.label, b.scenes.best_move()) and (b.question == 0).all()
    is_held = v.game % visits.HELD_OUT_EVERY == 0
    train_keys = {(*a, h) for a, h in zip(v.scenes.agent[~is_held].tolist(), v.scenes.heading[~is_held].tolist())}
    held_keys = {(*a, h) for a, h in zip(v.scenes.agent[is_held].tolist(), v.scenes.heading[is_held].tolist())}
    assert {(*a, h) for a, h in zip(b.scenes.agent.tolist(), b.scenes.heading.tolist())} <= train_keys
    h = held_out.make(50, np.random.default_rng(0), 16)
    assert {(*a, hd) for a, hd in zip(h.scenes.agent.tolist(), h.scenes.heading.tolist())} <= held_keys
    assert len(set(b.label.tolist())) == 3  # the oracle's games turn and go forward
    # The closed loop still asks relposition_qa's question.
    assert evaluate.move_question().framework == "relposition_qa"
    # Without files: none available (the harness leaves it out), and making examples says how to
    # record some.
    assert not base.available("visited_qa") and base.available("visited_qa", {"visits": [agent_visits]})
    report = evaluate.evaluate(evaluate.oracle, n=2, size=16, closed_loop=False)
    assert "visited_qa" not in {s.framework for s in report.questions} and "relposition_qa" in {
        s.framework for s in report.questions
    }
    with pytest.raises(ValueError, match=r"Fix: record some \(tat agent visits"):
        base.get("visited_qa").make(4, np.random.default_rng(0), 16)


def test_the_mixer_trains_visited_qa_only_with_visits(agent_visits: str) -> None:
    with pytest.raises(ValueError, match=r"frameworks.weights.visited_qa: .*frameworks.visits names none"):
        Mixer.from_config({"weights": {"visited_qa": 1, "control": 1}})
    with pytest.raises(ValueError, match=r"frameworks.stage\[0\].weights.visited_qa"):
        Mixer.from_config({"weights": {"control": 1}, "stage": [{"until_step": 5, "weights": {"visited_qa": 1}}]})
    with pytest.raises(ValueError, match="frameworks.visits: expected a list"):
        Mixer.from_config({"weights": {"control": 1}, "visits": agent_visits})
    mixer = Mixer.from_config({"weights": {"visited_qa": 1}, "visits": [agent_visits]}, seed=2)
    a, b = mixer.batch(7, 6, 16), mixer.batch(7, 6, 16)
    assert a.framework == "visited_qa" and a.prompt == b.prompt and np.array_equal(a.image, b.image)


def test_tat_agent_visits_records_a_file_that_show_and_eval_read(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "oracle.npz"
    args = ["agent", "visits", "--policy", "oracle", "--episodes", "16", "--size", "16", "--out", str(out)]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("oracle: won 16 of 16 games on full scenes; kept ") and out.is_file()
    v = visits.load(out)
    assert f"kept {len(v)} states (0 from games it lost, {int((v.game % 8 == 0).sum())} held out)" in result.output
    png = tmp_path / "visited.png"
    result = runner.invoke(main, ["agent", "show", "--framework", "visited_qa", "-n", "2", "--size", "32", "--out", str(png)])
    assert result.exit_code == 2 and "Fix: pass --visits FILE" in result.output and not png.exists()
    args = ["agent", "show", "--framework", "visited_qa", "-n", "2", "--size", "32", "--visits", str(out), "--out", str(png)]
    assert runner.invoke(main, args, catch_exceptions=False).exit_code == 0 and png.is_file()
    args = ["agent", "eval", "--policy", "oracle", "-n", "30", "--size", "16", "--framework", "visited_qa", "--visits", str(out)]
    result = runner.invoke(main, args, catch_exceptions=False)
    rows = [line for line in result.output.splitlines() if line.startswith("visited_qa")]
    assert result.exit_code == 0 and rows and rows[0].split()[3] == "100.0%"
    result = runner.invoke(main, ["agent", "visits", "--policy", "oracle", "--episodes", "2", "--out", str(tmp_path / "x.txt")])
    assert result.exit_code != 0 and "suffix .npz" in result.output
