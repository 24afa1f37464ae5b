"""The agent task's training frameworks (every one: shapes, prompts, answers, labels, targets,
determinism; hand-made scenes for a few labels), the complex loss, and the mixing of frameworks
with its curriculum."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from tiny_agent_trainer.tasks.agent import game, render
from tiny_agent_trainer.tasks.agent.frameworks import (
    ALL,
    base,
    closer_places,
    comparison_v1,
    complex_loss_v1,
    imagine_after_move,
    mem_canvas_use,
    way_to_gold,
)
from tiny_agent_trainer.tasks.agent.frameworks.arrow_to_gold import ArrowToGold
from tiny_agent_trainer.tasks.agent.frameworks.way_to_gold import WayToGold, way_line
from tiny_agent_trainer.tasks.agent.frameworks.closer_places import CloserPlaces
from tiny_agent_trainer.tasks.agent.frameworks.blue_line_qa import BlueLineQA
from tiny_agent_trainer.tasks.agent.frameworks.imagine_halfway_to_gold import ImagineHalfwayToGold, halfway
from tiny_agent_trainer.tasks.agent.frameworks.please_turn_qa import PleaseTurnQA
from tiny_agent_trainer.tasks.agent.frameworks.relposition_qa import greedy_move, hidden_gold, press, walk
from tiny_agent_trainer.tasks.agent.frameworks.base import EOS, MAX_CANVASES, Batch, answer_text, draw_kept
from tiny_agent_trainer.tasks.agent.game import WALL, Scene, Scenes
from tiny_agent_trainer.tasks.agent.mixing import Mixer

SIDES = [(0.0, 0.0, WALL, 1.0), (1 - WALL, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, WALL), (0.0, 1 - WALL, 1.0, 1.0)]
PROMPT = re.compile(r"[a-z]+( [a-z]+)*")
N = 12


def scenes_of(*specs: tuple[tuple[float, float], float, tuple[float, float]]) -> Scenes:
    """Bare hand-made scenes from (agent, heading, gold)."""
    return Scenes.from_scenes([Scene(agent, heading, SIDES, [gold]) for agent, heading, gold in specs])


def indices(pictures: np.ndarray) -> np.ndarray:
    """Palette indices of pictures drawn in the palette's colours."""
    return np.argmin(np.abs(pictures[..., None, :].astype(int) - render.PALETTE.astype(int)).sum(-1), axis=-1)


def target_of(b: Batch) -> np.ndarray:
    assert b.target is not None
    return b.target


SETTINGS: dict[str, list[str]] = {"visits": []}
"""The frameworks' settings: visited_qa's recorded states (`use_visits`)."""


@pytest.fixture(scope="module", autouse=True)
def use_visits(agent_visits: str) -> None:
    SETTINGS["visits"] = [agent_visits]


def make(name: str, n: int = N, seed: int = 0, size: int = 32) -> Batch:
    return base.get(name, SETTINGS).make(n, np.random.default_rng(seed), size)


def test_every_framework_is_registered_under_its_module_name_in_the_order_of_all() -> None:
    assert len(ALL) == 26 and len(set(ALL)) == 26
    assert base.names() == list(ALL)
    for name in ALL:
        f = base.get(name)
        assert f.name == name and type(f).__module__.endswith(f".{name}") and f.description
    with pytest.raises(KeyError, match="unknown framework 'nope'"):
        base.get("nope")


@pytest.mark.parametrize("size", [32, 96])
@pytest.mark.parametrize("name", ALL)
def test_batches_have_the_contracts_shapes_and_answers(name: str, size: int) -> None:
    f = base.get(name)
    b = make(name, size=size)
    assert b.framework == name and len(b) == N and len(b.scenes) == N
    assert b.image.shape == (N, size, size, 3) and b.image.dtype == np.uint8
    assert b.canvases.dtype == np.uint8 and b.canvases.ndim == 5
    assert b.canvases.shape[0] == N and b.canvases.shape[1] <= MAX_CANVASES and b.canvases.shape[2:] == (size, size, 3)
    assert b.question.shape == b.label.shape == (N,) and b.question.dtype == b.label.dtype == np.int64
    assert all(isinstance(w, float) for w in b.weights.values()) and b.weights["text"] == 1.0
    for key, value in b.extra.items():
        assert isinstance(value, np.ndarray) and len(value) == N, key
    assert len(b.answer) == N and all(a and a.split()[-1] == EOS for a in b.answer)
    assert set(b.prompt) <= set(f.prompt_texts())
    if f.questions:
        assert b.target is None and b.weights["image"] == 0.0
        for prompt, answer, q, c in zip(b.prompt, b.answer, b.question, b.label):
            question = f.questions[q]
            assert prompt in question.prompts and 0 <= c < len(question.classes)
            assert answer == answer_text(question.classes[c]) and answer != EOS
    else:
        assert (b.question == -1).all() and (b.label == -1).all() and b.answer == [EOS] * N
        assert b.target is not None and b.target.shape == b.image.shape and b.target.dtype == np.uint8


def test_every_question_can_be_asked_about_given_scenes() -> None:
    scenes = game.make_scenes(6, 9, "bare")
    for name in ALL:
        f = base.get(name)
        for qi, q in enumerate(f.questions):
            b = f.ask(scenes, q.name, np.random.default_rng(qi), 32)
            assert len(b) == 6 and (b.question == qi).all() and all(p in q.prompts for p in b.prompt)
            assert b.answer == [answer_text(q.classes[c]) for c in b.label]
            assert np.array_equal(b.image, render.render(scenes, 32, line=(
                (b.extra["line_angle"], b.extra["line_length"]) if "line_angle" in b.extra else None)))


def test_prompts_are_plain_words_and_each_belongs_to_one_question_across_all_frameworks() -> None:
    # A framework may ask another's question (the same object: prompts, classes, oracle) about
    # other scenes, as visited_qa asks relposition_qa's best move; no prompt has two meanings.
    owner: dict[str, tuple[str, object]] = {}
    for name in ALL:
        f = base.get(name)
        groups = [(f"{name}/{q.name}", q.prompts, q) for q in f.questions] or [(name, f.prompt_texts(), None)]
        for where, prompts, question in groups:
            assert len(prompts) >= 3 or name == "imagine_after_move", where
            for p in prompts:
                assert PROMPT.fullmatch(p), f"{where}: {p!r}"
                if p in owner:
                    first, asked = owner[p]
                    assert question is not None and asked is question, f"{p!r} is in both {first} and {where}"
                    continue
                owner[p] = (where, question)
        for q in f.questions:
            assert q.classes and all(c and c == c.strip() and EOS not in c for c in q.classes)
            assert len(set(q.classes)) == len(q.classes)


def spoken(prompt: str) -> str:
    """The moves a prompt of imagine_after_move says (F, C, A), read from its words."""
    counts = {"thirty": 5, "ninety": 15, "a": 1, "one": 1, "once": 1, "single": 1, "two": 2, "three": 3}
    moves = ""
    for part in re.split(r" (?:and )?then ", prompt):
        words = part.split()
        if "around" in words or "other" in words:
            moves += "C" * 30
            continue
        n = next(counts[c] for c in counts if c in words)  # degrees first: "a thirty degree turn"
        if "forward" in words:
            moves += "F" * n
        else:
            assert ("clockwise" in words) != ("anticlockwise" in words), prompt
            moves += ("C" if "clockwise" in words else "A") * n
    return moves


def test_each_imagined_move_sequence_has_its_own_prompts_and_is_played_as_said() -> None:
    seen: dict[str, int] = {}
    for i, (moves, prompts) in enumerate(imagine_after_move.SEQUENCES):
        assert len(prompts) >= 2 and set(moves) <= set("FCA")
        for p in prompts:
            assert seen.setdefault(p, i) == i
        assert all(spoken(p) == moves for p in prompts), (moves, prompts)
    b = make("imagine_after_move", n=40, size=48)
    after = b.scenes.copy()
    for step in range(b.extra["moves"].shape[1]):
        after.move(b.extra["moves"][:, step])
    assert np.array_equal(render.render(after, 48), target_of(b))
    for prompt, s, moves in zip(b.prompt, b.extra["sequence"], b.extra["moves"]):
        assert seen[prompt] == s
        assert np.array_equal(moves, imagine_after_move.PLANS[s])


@pytest.mark.parametrize("name", ALL)
def test_batches_repeat_with_their_seed_and_change_with_it(name: str) -> None:
    a, b, c = make(name, seed=5), make(name, seed=5), make(name, seed=6)
    for field in ("image", "canvases", "question", "label"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.prompt == b.prompt and a.answer == b.answer and a.weights == b.weights
    assert (a.target is None and b.target is None) or np.array_equal(target_of(a), target_of(b))
    assert all(np.array_equal(a.extra[k], b.extra[k]) for k in a.extra)
    assert not np.array_equal(a.image, c.image)


def test_targets_differ_from_the_inputs_where_they_should() -> None:
    for name in ALL:
        b = make(name, n=40, size=96)
        if b.target is None:
            continue
        differ = (target_of(b) != b.image).any(axis=(1, 2, 3))
        if name == "control":
            assert not differ.any()
        elif name == "mem_canvas_use":
            assert np.array_equal(differ, b.extra["lookback"] > 0)
        else:
            assert differ.mean() >= 0.9, name


def test_imagined_rooms_are_renders_without_what_they_say() -> None:
    omitted = {
        "imagine_without_agent": {"agent"},
        "imagine_without_gold": {"gold"},
        "imagine_without_walls": {"walls"},
        "imagine_walls_only": {"agent", "gold"},
    }
    colours = {"agent": [render.GREEN, render.RED], "gold": [render.GOLD], "walls": [render.BLACK]}
    for name, omit in omitted.items():
        b = make(name, n=20, size=64)
        assert b.scenes.has_gold().all() and (~np.isnan(b.scenes.walls[:, :, 0])).sum(axis=1).min() >= 5, "full scenes"
        assert np.array_equal(target_of(b), render.render(b.scenes, 64, omit=omit))
        shown = indices(target_of(b))
        for part, cs in colours.items():
            assert np.isin(shown, cs).any(axis=(1, 2)).all() != (part in omit), (name, part)


def test_the_way_to_the_gold_is_the_straight_line_where_free_and_heads_round_the_wall_where_not() -> None:
    b = make("way_to_gold", n=60, size=64)
    s = b.scenes
    angle, length = way_line(s)
    assert np.array_equal(target_of(b), render.render(s, 64, line=(angle, length)))
    assert np.array_equal(WayToGold().target(s, 64), target_of(b))
    blocked = s.way_blocked()
    assert 0.2 < blocked.mean() < 0.8
    # Where the straight way is free and the gold lies within the agent's reach, the line is
    # arrow_to_gold's; where a wall crosses it, the line heads for the planner's corner.
    inside = np.all(s.aim() == s.nearest_gold(), axis=1) & ~blocked
    assert inside.sum() >= 10
    gold = s.select(np.nonzero(inside)[0])
    assert np.array_equal(ArrowToGold().target(gold, 64), render.render(gold, 64, line=way_line(gold)))
    d = s.steer()[blocked] - s.agent[blocked]
    assert np.allclose(np.cos(angle[blocked]), np.cos(np.arctan2(d[:, 1], d[:, 0])))
    assert np.allclose(length[blocked], np.maximum(np.linalg.norm(d, axis=1) - game.AGENT_R, 0))
    # The best move follows the line: forward where it lies within half a turn of the heading.
    near = np.abs(game.wrap(angle - s.heading)) < game.TURN / 2 - 1e-9
    assert (s.best_move()[near & blocked] == game.FORWARD).all()
    score = way_to_gold.score(target_of(b), b)
    assert np.median(score["median_angle_error_deg"][length > 0.05]) < 5 and score["line_drawn"][length > 0.05].all()


def test_the_planned_move_is_asked_with_the_places_nearer_the_gold_as_its_canvas() -> None:
    b = make("planned_move_qa", n=40, size=64)
    f = base.get("planned_move_qa")
    assert f.questions == (base.get("relposition_qa").questions[2],) and f.questions[0].name == "best_move"
    assert b.canvases.shape == (40, 1, 64, 64, 3)
    assert np.array_equal(b.canvases[:, 0], CloserPlaces().target(b.scenes, 64))
    assert np.array_equal(b.image, render.render(b.scenes, 64))
    assert np.array_equal(b.label, b.scenes.best_move()) and len(set(b.label)) == 3
    asked = f.ask(b.scenes, "best_move", np.random.default_rng(1), 64)
    assert np.array_equal(asked.canvases, b.canvases) and asked.prompt != [] and set(asked.prompt) <= set(f.questions[0].prompts)


def test_closer_places_are_the_cells_with_a_shorter_way_round_the_walls() -> None:
    b = make("closer_places", n=40, size=64)
    s = b.scenes
    truth = indices(target_of(b))
    plain = indices(render.render(s, 64))
    assert np.array_equal(np.where(truth == render.BLUE, render.WHITE, truth), plain), "blue over the floor only"
    assert np.array_equal(target_of(b), CloserPlaces().target(s, 64))
    region = closer_places.regions(s)
    for i in range(len(s)):
        free, dist = closer_places._gold_field(s, i)
        mine = closer_places.agent_way(s.agent[i], free, dist)
        assert np.isfinite(mine) and np.array_equal(region[i], free & (dist < mine))
    assert 0.3 < (truth == render.BLUE).any(axis=(1, 2)).mean() <= 1.0
    # A wall across the way, its left end nearer: the region reaches the agent on its left, the
    # side the best move turns to; the truth scores itself perfectly, a copy of the input not.
    wall = (0.3, 0.45, 0.9, 0.45 + WALL)
    hand = Scenes.from_scenes([Scene((0.5, 0.3), math.pi / 2, [*SIDES, wall], [(0.5, 0.75)])])
    assert hand.way_blocked()[0] and hand.best_move()[0] == game.ANTICLOCKWISE
    hb = CloserPlaces().image_batch(hand, render.render(hand, 96), CloserPlaces().target(hand, 96), ["x"])
    hb.extra.update(agent=hand.agent.copy(), heading=hand.heading.copy())
    own = closer_places.score(target_of(hb), hb)
    assert own["region_iou"][0] == 1.0 and own["agent_side"][0] == 1.0
    mirrored = target_of(hb)[:, :, ::-1]  # the region on the other side
    assert closer_places.score(np.ascontiguousarray(mirrored), hb)["agent_side"][0] == 0.0
    copy = closer_places.score(b.image, b)
    assert (copy["region_iou"][(truth == render.BLUE).any(axis=(1, 2))] == 0).all()


def test_arrow_zoom_and_halfway_targets_are_the_scene_renders_they_describe() -> None:
    b = make("arrow_to_gold", n=20, size=64)
    blue = (target_of(b) == render.PALETTE[render.BLUE]).all(-1).sum(axis=(1, 2))
    assert (blue > 0).all() and not (b.image == render.PALETTE[render.BLUE]).all(-1).any()
    for name, factor, centre in [
        ("zoom_agent", 6, lambda s: s.agent),
        ("zoom_gold", 8, lambda s: s.nearest_gold()),
        ("zoom_halfway", 2, lambda s: (s.agent + s.nearest_gold()) / 2),
    ]:
        b = make(name, n=10, size=64)
        view = render.zoom_view(centre(b.scenes), factor)
        assert np.array_equal(target_of(b), render.render(b.scenes, 64, view=view))
    # halfway: the agent at the midpoint facing the gold; a gold piece it then overlaps is eaten
    s = scenes_of(((0.3, 0.3), 0.0, (0.7, 0.3)), ((0.5, 0.5), 0.0, (0.5, 0.6)), ((0.2, 0.12), 0.0, (0.8, 0.07)))
    moved = halfway(s)
    assert np.allclose(moved.agent[:2], [[0.5, 0.3], [0.5, 0.55]])
    assert np.allclose(moved.heading, s.gold_angle())
    assert moved.has_gold().tolist() == [True, False, True]
    assert np.array_equal(ImagineHalfwayToGold().target(s, 64), render.render(moved, 64))
    # the third midpoint would overlap the bottom wall: the agent stops short of it on the path, clear
    assert not moved.blocked(moved.agent[:, None]).any()
    t = (moved.agent[2, 0] - 0.2) / 0.6
    assert 0.1 < t < 0.5 and np.allclose(moved.agent[2], s.agent[2] + t * (s.gold[2, 0] - s.agent[2]))


def test_memory_canvases_are_the_pictures_shown_before_and_the_target_the_one_asked_for() -> None:
    b = make("mem_canvas_use", n=30, size=32)
    assert b.canvases.shape[1] == 2
    shown = np.concatenate([b.canvases, b.image[:, None]], axis=1)  # oldest first
    assert set(b.extra["lookback"]) == {0, 1, 2}
    for i, k in enumerate(b.extra["lookback"]):
        assert np.array_equal(target_of(b)[i], shown[i, 2 - k])
        assert b.prompt[i] in mem_canvas_use.RECALL[k]
    assert not np.array_equal(b.canvases[:, 0], b.canvases[:, 1]) and not np.array_equal(b.canvases[:, 1], b.image)


def test_question_labels_on_hand_made_scenes() -> None:
    rng = np.random.default_rng(0)
    # gold up and to the left of the agent, which faces it squarely and is near it
    s = scenes_of(((0.5, 0.5), 3 * math.pi / 4, (0.42, 0.58)), ((0.3, 0.3), 0.0, (0.8, 0.8)))
    position = base.get("position_qa")
    answers = {q: position.ask(s, q, rng, 32).answer for q in
               ("gold_left_right", "gold_above_below", "agent_left_right", "agent_above_below")}
    assert answers == {
        "gold_left_right": ["left <eos>", "right <eos>"],
        "gold_above_below": ["above <eos>", "above <eos>"],
        "agent_left_right": ["right <eos>", "left <eos>"],
        "agent_above_below": ["below <eos>", "below <eos>"],
    }
    assert base.get("near_gold_qa").ask(s, "near", rng, 32).answer == ["yes <eos>", "no <eos>"]
    assert base.get("gold_direction_qa").ask(s, "gold_ahead", rng, 32).answer == ["yes <eos>", "no <eos>"]
    rel = base.get("relposition_qa")
    assert rel.ask(s, "eat_forward", rng, 32).answer == ["yes <eos>", "no <eos>"]
    # the second agent faces +x; the gold at 45 degrees is to its left: anticlockwise
    assert rel.ask(s, "turn", rng, 32).answer[1] == "anticlockwise <eos>"
    assert rel.ask(s, "best_move", rng, 32).answer == ["forward <eos>", "anticlockwise <eos>"]
    t = scenes_of(((0.5, 0.5), math.pi / 2, (0.8, 0.5)))  # facing up, gold to the right
    assert rel.ask(t, "best_move", rng, 32).answer == ["clockwise <eos>"]
    assert np.array_equal(rel.ask(s, "best_move", rng, 32).label, s.best_move())
    with pytest.raises(KeyError, match="no question 'nope'"):
        rel.ask(s, "nope", rng, 32)
    with pytest.raises(NotImplementedError):
        base.get("control").ask(s, "x", rng, 32)


def test_line_questions_follow_the_line_and_away_is_the_other_turn() -> None:
    s = scenes_of(((0.5, 0.5), 0.0, (0.5, 0.2)), ((0.5, 0.5), 0.0, (0.5, 0.8)))  # gold right, then left
    extra = {"line_angle": np.array([0.4, -0.6]), "line_length": np.array([0.2, 0.2])}
    blue = BlueLineQA()
    assert blue.labels(s, extra).tolist() == [[0, 1]]  # within 30 degrees (0.52 rad): yes; else no
    please = PleaseTurnQA()
    turns = please.questions[0].classes
    got = [[turns[c] for c in row] for row in please.labels(s, extra)]
    assert got == [
        ["clockwise", "anticlockwise"],  # towards the gold
        ["anticlockwise", "clockwise"],  # towards the line
        ["anticlockwise", "clockwise"],  # away from the gold
        ["clockwise", "anticlockwise"],  # away from the line
    ]
    b = blue.make(400, np.random.default_rng(1), 32)
    assert 0.4 < (b.label == 0).mean() < 0.6
    assert np.array_equal(b.label == 0, np.abs(game.wrap(b.extra["line_angle"] - b.scenes.heading)) < math.pi / 6)


def test_balanced_questions_are_not_one_sided() -> None:
    for name, question, low in [("gold_direction_qa", 0, 0.25), ("near_gold_qa", 0, 0.3), ("relposition_qa", 2, 0.2)]:
        b = make(name, n=300)
        mine = b.question == question
        shares = np.bincount(b.label[mine], minlength=len(base.get(name).questions[question].classes)) / mine.sum()
        assert shares.min() > low, (name, shares)


def test_relposition_asks_about_full_scenes_too_and_only_solvable_ones() -> None:
    b = make("relposition_qa", n=200)
    w = b.scenes.walls
    border = (w[..., 0] == 0) | (w[..., 1] == 0) | (w[..., 2] == 1) | (w[..., 3] == 1)
    interior = (~np.isnan(w[..., 0]) & ~border).any(axis=1)
    several = (~np.isnan(b.scenes.gold[:, :, 0])).sum(axis=1) > 1
    assert 0.3 < (interior | several).mean() < 0.7, "about half the scenes are full"
    assert b.scenes.solvable().all()
    assert np.array_equal(b.label[b.question == 2], b.scenes.best_move()[b.question == 2])


class FixedSteps:
    """A generator stand-in for `walk`: every walk makes `n` moves, none of them random."""

    def __init__(self, n: int) -> None:
        self.n = n

    def integers(self, low: int, high: int, size: int) -> np.ndarray:
        return np.full(size, self.n)

    def uniform(self, low: float, high: float, size: int) -> np.ndarray:
        return np.zeros(size)

    def random(self, size: int) -> np.ndarray:
        return np.ones(size)


def test_walks_play_the_game_from_their_scene_and_stop_before_eating() -> None:
    start = game.make_scenes(60, 4, "full", solvable=True)
    walked = walk(start, np.random.default_rng(2))
    again = walk(start, np.random.default_rng(2))
    assert np.array_equal(walked.agent, again.agent) and np.array_equal(walked.heading, again.heading)
    assert np.array_equal(walked.walls, start.walls, equal_nan=True)
    assert np.array_equal(walked.gold, start.gold, equal_nan=True), "nothing eaten"
    moved = (walked.agent != start.agent).any(axis=1) | (walked.heading != start.heading)
    assert 0.6 < moved.mean() < 1.0, "most walks move; a walk of no steps stays"
    assert not walked.blocked(walked.agent[:, None]).any(), "walked agents never overlap a wall"
    # With no random moves a walk is the oracle's game, stopped one move before it eats.
    played = start.copy()
    ate = np.zeros(len(start), dtype=bool)
    for _ in range(30):
        ate |= played.move(np.where(ate, -1, played.best_move())) > 0
    oracle = walk(start, FixedSteps(30))
    assert 0.2 < ate.mean() < 0.9
    assert np.allclose(oracle.agent[~ate], played.agent[~ate]) and np.allclose(oracle.heading[~ate], played.heading[~ate])
    assert (oracle.select(np.nonzero(ate)[0]).move(oracle.select(np.nonzero(ate)[0]).best_move()) > 0).all()


def test_the_greedy_move_heads_for_the_gold_through_walls() -> None:
    s = scenes_of(((0.5, 0.5), 0.0, (0.8, 0.5)), ((0.5, 0.5), 0.0, (0.5, 0.8)), ((0.5, 0.5), 0.0, (0.5, 0.2)))
    assert greedy_move(s).tolist() == [game.FORWARD, game.ANTICLOCKWISE, game.CLOCKWISE]
    # A wall between the agent and the gold changes the oracle's move, not the greedy one.
    walled = Scenes(s.agent[:1], s.heading[:1], s.walls[:1].copy(), s.gold[:1])
    walled.walls[0, 4] = (0.6, 0.2, 0.65, 0.8)  # x0, y0, x1, y1
    assert greedy_move(walled).tolist() == [game.FORWARD] and walled.best_move()[0] != game.FORWARD


def test_pressed_scenes_stand_against_the_wall_that_hides_the_gold() -> None:
    start = draw_kept(60, np.random.default_rng(5), "full", hidden_gold)
    assert hidden_gold(start).all()
    pressed = press(start, np.random.default_rng(6))
    again = press(start, np.random.default_rng(6))
    assert np.array_equal(pressed.agent, again.agent) and np.array_equal(pressed.heading, again.heading)
    assert np.array_equal(pressed.gold, start.gold, equal_nan=True), "nothing eaten"
    assert not pressed.blocked(pressed.agent[:, None]).any()
    touching = np.linalg.norm(pressed.forward_position() - pressed.agent, axis=1) < game.STEP / 8
    ahead = np.abs(pressed.angle_to_gold()) < math.pi / 4
    assert (touching & ahead).mean() > 0.4, "most stand against a wall with the gold ahead behind it"
    # Where the wall-blind walk got stuck (no oracle moves after it) the oracle turns away.
    stuck = touching & ahead & ~pressed.reaches_forward()
    assert stuck.sum() > 10 and (pressed.best_move()[stuck] != game.FORWARD).mean() > 0.9


def test_relposition_draws_single_scenes_of_each_kind() -> None:
    """A batch may miss a kind of scene (placed, walked, pressed): one scene leaves two out."""
    f = base.get("relposition_qa")
    drawn = [f.draw(1, np.random.default_rng(seed)) for seed in range(40)]
    assert all(len(s) == 1 and s.has_gold().all() for s in drawn)
    assert len(draw_kept(0, np.random.default_rng(0), "full", hidden_gold)) == 0


def test_relposition_asks_about_walked_scenes_where_walls_block_the_way_more_often() -> None:
    b = make("relposition_qa", n=400, seed=3)
    blocked = np.linalg.norm(b.scenes.forward_position() - b.scenes.agent, axis=1) < game.STEP * 0.999
    assert blocked.mean() > 0.12, "placed scenes alone block a forward move in about 9% of scenes"
    assert b.scenes.has_gold().all() and b.scenes.solvable().all()
    assert np.array_equal(b.label[b.question == 2], b.scenes.best_move()[b.question == 2])


def test_comparison_compares_oracle_steps_with_the_first_scene_as_the_canvas() -> None:
    f = comparison_v1.ComparisonV1()
    b = make("comparison_v1", n=40)
    assert b.canvases.shape[1] == 1
    first = b.extra["first_steps"]
    second = b.extra["second_steps"]
    assert np.array_equal(b.label, np.where(first <= second, 0, 1)) and (first != second).mean() > 0.9
    assert np.array_equal(second, b.scenes.steps_to_gold())
    near = scenes_of(((0.5, 0.5), 0.0, (0.7, 0.5)))  # facing the gold: 3 steps
    far = scenes_of(((0.2, 0.2), math.pi, (0.8, 0.8)))  # facing away from far gold
    batch = f.compare(near, far, near.steps_to_gold(), far.steps_to_gold(),
                      np.random.default_rng(0), 32)
    assert batch.answer == ["first <eos>"]
    assert np.array_equal(batch.canvases[0, 0], render.render(near, 32)[0])
    batch = f.compare(far, near, far.steps_to_gold(), near.steps_to_gold(),
                      np.random.default_rng(0), 32)
    assert batch.answer == ["second <eos>"]


def test_complex_loss_v1_scores_right_answers_and_hands_the_engine_its_loss_inputs() -> None:
    size = 96
    b = make("complex_loss_v1", n=16, size=size)
    gold, agent = b.extra["gold"], b.extra["agent"]
    assert np.allclose(np.linalg.norm(gold - agent, axis=1), b.extra["distance"])
    right = b.scenes.copy()
    right.agent = agent + 0.55 * (gold - agent)  # 45% of the distance left, the gold not overlapped
    right_pictures = render.render(right, size)
    assert complex_loss_v1.score(right_pictures, b).all()
    assert not complex_loss_v1.score(b.image, b).any()
    assert complex_loss_v1.score(target_of(b), b).all()  # the reference answer
    moved_gold = right.copy()
    moved_gold.gold += np.array([0.05, 0.0])
    assert not complex_loss_v1.score(render.render(moved_gold, size), b).any()
    # The engine's complex loss (tested in tasks::agent) takes these, one row per example.
    arrays = base.get("complex_loss_v1").loss_arrays(b)
    assert float(arrays["weight_complex"]) == 1.0 and arrays["complex_sharpness"].shape == ()
    assert np.array_equal(arrays["complex_gold"], gold.astype(np.float32))
    assert arrays["complex_distance"].shape == arrays["complex_agent_r"].shape == (16,)
    assert arrays["complex_agent_colours"].shape == (16, 2, 3) and arrays["complex_gold_colours"].shape == (16, 1, 3)
    assert arrays["complex_gold_colours"].dtype == np.uint8
    assert base.get("position_qa").loss_arrays(make("position_qa", n=2, size=size)) == {}


def test_mixer_is_a_pure_function_of_seed_and_step_and_follows_its_weights() -> None:
    weights = {"position_qa": 2, "control": 1, "zoom_gold": 0}
    a, b = Mixer(weights, seed=3), Mixer(weights, seed=3)
    seq = [a.framework_at(s) for s in range(600)]
    assert seq == [b.framework_at(s) for s in range(600)]
    assert seq != [Mixer(weights, seed=4).framework_at(s) for s in range(600)]
    assert set(seq) == {"position_qa", "control"} and 0.6 < seq.count("position_qa") / 600 < 0.73
    x, y = a.batch(17, 4, 32), Mixer(weights, seed=3).batch(17, 4, 32)  # a resumed run: a fresh mixer
    assert x.framework == a.framework_at(17) and np.array_equal(x.image, y.image) and x.prompt == y.prompt


def test_curriculum_stages_switch_at_their_steps() -> None:
    table = {
        "weights": {"comparison_v1": 1},
        "stage": [{"until_step": 5, "weights": {"control": 1}}, {"until_step": 9, "weights": {"near_gold_qa": 1}}],
    }
    m = Mixer.from_config(table, seed=1)
    assert [m.framework_at(s) for s in (0, 4, 5, 8, 9, 100)] == [
        "control", "control", "near_gold_qa", "near_gold_qa", "comparison_v1", "comparison_v1"]
    assert m.batch(6, 3, 32).framework == "near_gold_qa"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"weights": {"controll": 1}}, r"frameworks\.weights\.controll: unknown framework"),
        ({"weights": {"control": -1}}, r"frameworks\.weights\.control: the weight"),
        ({"weights": {"control": True}}, r"frameworks\.weights\.control: the weight"),
        ({"weights": {"control": 0}}, r"frameworks\.weights: at least one"),
        ({}, r"frameworks\.weights: missing"),
        ({"weights": {"control": 1}, "stages": []}, r"frameworks\.stages: unknown key"),
        ({"weights": {"control": 1}, "stage": [{"until_step": 0, "weights": {"control": 1}}]},
         r"frameworks\.stage\[0\]\.until_step"),
        ({"weights": {"control": 1}, "stage": [{"until_step": 5, "weights": {"control": 1}},
                                               {"until_step": 5, "weights": {"control": 1}}]},
         r"frameworks\.stage\[1\]\.until_step: 5 is not after"),
        ({"weights": {"control": 1}, "stage": [{"until_step": 5, "weights": {"zoom": 1}}]},
         r"frameworks\.stage\[0\]\.weights\.zoom: unknown framework"),
        ({"weights": {"control": 1}, "stage": [{"until": 5, "weights": {"control": 1}}]},
         r"frameworks\.stage\[0\]\.until: unknown key"),
    ],
)
def test_mixer_config_errors_name_the_bad_key(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mixer.from_config(table)
