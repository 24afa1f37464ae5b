"""The grid-world game's rules, scenes and oracles, and its renderer, on hand-made scenes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tiny_agent_trainer.tasks.agent import game, render
from tiny_agent_trainer.tasks.agent.game import (
    AGENT_R,
    ANTICLOCKWISE,
    CLOCKWISE,
    EAT,
    FORWARD,
    STEP,
    TURN,
    WALL,
    Scene,
    Scenes,
)

SIDES = [(0.0, 0.0, WALL, 1.0), (1 - WALL, 0.0, 1.0, 1.0), (0.0, 0.0, 1.0, WALL), (0.0, 1 - WALL, 1.0, 1.0)]


def one(agent: tuple[float, float], heading: float, gold: list[tuple[float, float]], walls=None) -> Scenes:
    return Scenes.from_scenes([Scene(agent, heading, SIDES if walls is None else walls, gold)])


def test_forward_moves_one_step_along_the_heading_and_turns_are_pi_over_30() -> None:
    s = one((0.5, 0.5), 0.0, [(0.9, 0.9)])
    s.move([FORWARD])
    assert np.allclose(s.agent[0], (0.5 + STEP, 0.5))
    s.move([ANTICLOCKWISE])
    assert math.isclose(s.heading[0], TURN)
    s.move([CLOCKWISE])
    s.move([CLOCKWISE])
    assert math.isclose(s.heading[0], 2 * math.pi - TURN)
    s = one((0.5, 0.5), math.pi / 2, [(0.9, 0.9)])
    s.move([FORWARD])
    assert np.allclose(s.agent[0], (0.5, 0.5 + STEP)), "heading pi/2 is up: y grows"


def test_a_blocked_step_is_shortened_until_clear_and_a_wall_stops_the_agent() -> None:
    # The right side wall starts at x = 1 - WALL; the agent may come to AGENT_R of it.
    limit = 1 - WALL - AGENT_R
    s = one((limit - 0.02, 0.5), 0.0, [(0.2, 0.2)])
    s.move([FORWARD])
    assert limit - 0.02 < s.agent[0, 0] <= limit and s.agent[0, 0] < limit - 0.02 + STEP
    before = s.agent.copy()
    for _ in range(3):
        s.move([FORWARD])
    assert s.agent[0, 0] <= limit
    assert np.allclose(s.agent[0, 1], before[0, 1])
    assert not s.blocked(s.agent[:, None])[0, 0]


def test_gold_is_eaten_on_overlap_only() -> None:
    s = one((0.5, 0.5), 0.0, [(0.5 + STEP + EAT - 0.001, 0.5)])
    assert s.move([FORWARD])[0] == 1 and not s.has_gold()[0]
    s = one((0.5, 0.5), 0.0, [(0.5 + STEP + EAT + 0.001, 0.5)])
    assert s.move([FORWARD])[0] == 0 and s.has_gold()[0]


def test_oracles_answer_both_ways_on_hand_made_scenes() -> None:
    ahead = one((0.3, 0.5), 0.0, [(0.8, 0.52)])
    beside = one((0.3, 0.5), 0.0, [(0.8, 0.7)])
    behind_wall = one((0.3, 0.5), 0.0, [(0.8, 0.5)], walls=SIDES + [(0.5, 0.2, 0.5 + WALL, 0.8)])
    assert ahead.reaches_forward()[0] and not beside.reaches_forward()[0] and not behind_wall.reaches_forward()[0]

    left = one((0.5, 0.5), 0.0, [(0.6, 0.8)])  # up and ahead: anticlockwise (to the left of the heading)
    right = one((0.5, 0.5), 0.0, [(0.6, 0.2)])
    assert left.turn_towards_gold()[0] == ANTICLOCKWISE and right.turn_towards_gold()[0] == CLOCKWISE
    assert left.angle_to_gold()[0] > 0 > right.angle_to_gold()[0]

    assert ahead.best_move()[0] == FORWARD and left.best_move()[0] == ANTICLOCKWISE and right.best_move()[0] == CLOCKWISE
    # Within half a turn of the heading a turn would overshoot: forward, even if not yet reaching.
    far = one((0.1125, 0.1125), math.pi / 4 + 0.99 * TURN / 2, [(0.92, 0.92)])
    assert not far.reaches_forward()[0] and far.best_move()[0] == FORWARD
    assert far.steps_to_gold()[0] < 40, "no turning back and forth"

    assert ahead.steps_to_gold()[0] == ahead.copy().steps_to_gold()[0] <= 8
    assert left.steps_to_gold()[0] > ahead.steps_to_gold()[0]
    sealed = one((0.3, 0.5), 0.0, [(0.8, 0.5)], walls=SIDES + [(0.5, 0.0, 0.5 + WALL, 1.0)])
    assert sealed.steps_to_gold(cap=40)[0] == 40, "unreachable gold: the cap"


def test_a_moving_disc_hits_a_wall_only_when_it_comes_closer_than_its_radius() -> None:
    wall = np.array([[[0.4, 0.4, 0.6, 0.6]] + [[np.nan] * 4] * (game.MAX_WALLS - 1)])
    r = AGENT_R

    def hits(start, end) -> bool:
        return bool(game.segment_hits(wall, np.array([start]), np.array([end]), r)[0])

    assert hits((0.2, 0.5), (0.8, 0.5)), "straight through"
    assert hits((0.2, 0.5), (0.38, 0.5)), "stops short, but within the radius"
    assert not hits((0.2, 0.5), (0.35 - 1e-6, 0.5)), "stops just clear"
    assert not hits((0.2, 0.6 + r), (0.8, 0.6 + r)), "slides along the top, touching"
    assert hits((0.2, 0.6 + r - 0.01), (0.8, 0.6 + r - 0.01))
    # Past a corner: the disc is round, so it clears the corner diagonally where a square would not.
    d = r / math.sqrt(2) + 1e-4
    assert not hits((0.6 + d - 0.3, 0.6 + d + 0.3), (0.6 + d + 0.3, 0.6 + d - 0.3))
    assert hits((0.6 + d - 0.3 - 0.02, 0.6 + d + 0.3 - 0.02), (0.6 + d + 0.3 - 0.02, 0.6 + d - 0.3 - 0.02))
    assert not hits((0.2, 0.2), (0.2, 0.2)) and hits((0.45, 0.5), (0.45, 0.5)), "a disc standing still"


def test_the_best_move_goes_round_a_wall_in_the_way() -> None:
    wall = [(0.45, 0.2, 0.45 + WALL, 0.8)]  # a vertical wall between the agent and the gold
    s = one((0.25, 0.5), 0.0, [(0.75, 0.5)], walls=SIDES + wall)
    assert not s.reaches_forward()[0]
    way = s.steer()[0]
    assert np.allclose(s.aim()[0], (0.75, 0.5)) and not np.allclose(way, s.aim()[0]), "heads for a corner instead"
    assert way[1] > 0.8 or way[1] < 0.2, "beyond an end of the wall"
    assert not game.segment_hits(s.walls, s.agent, way[None], AGENT_R)[0], "and in plain sight"
    assert s.best_move()[0] != FORWARD, "the gold is straight ahead, behind the wall: turn"
    steps = s.steps_to_gold(cap=100)[0]
    assert steps < 60, f"round the wall in {steps} moves (about 14 forward, the rest turns of 6 degrees)"
    # Straight ahead with nothing in the way: as before, the point it heads for is the gold.
    open_ = one((0.25, 0.5), 0.0, [(0.75, 0.5)])
    assert np.allclose(open_.steer()[0], open_.aim()[0]) and open_.best_move()[0] == FORWARD


def test_the_corner_of_the_way_round_counts_as_ahead_within_a_band_of_the_heading() -> None:
    wall = [(0.45, 0.2, 0.45 + WALL, 0.8)]
    gold = [(0.75, 0.5)]

    def corner_at(agent: tuple[float, float], turn_degrees: float) -> Scenes:
        """The scene with the heading `turn_degrees` off the way to the corner the oracle steers for."""
        way = one(agent, 0.0, gold, walls=SIDES + wall).steer()[0] - agent
        return one(agent, math.atan2(way[1], way[0]) + math.radians(turn_degrees), gold, walls=SIDES + wall)

    # The corner is 0.35 away: 8 degrees off passes 0.05 from it (forward), 20 degrees 0.12 (turn
    # back towards it), where the straight rule forwards only within half a turn (3 degrees).
    assert corner_at((0.25, 0.5), 8).best_move()[0] == FORWARD
    assert corner_at((0.25, 0.5), -8).best_move()[0] == FORWARD
    assert corner_at((0.25, 0.5), 20).best_move()[0] == CLOCKWISE
    # Touching the wall, 5 degrees towards it: the corner is in the band, but a step is blocked.
    pressed = corner_at((0.45 - AGENT_R, 0.7), -5)
    assert np.allclose(pressed.forward_position(), pressed.agent) and pressed.best_move()[0] == ANTICLOCKWISE
    assert corner_at((0.45 - AGENT_R, 0.7), 5).best_move()[0] == FORWARD


def test_walled_off_gold_is_unsolvable_and_solvable_scenes_are_drawn_again() -> None:
    sealed = one((0.3, 0.5), 0.0, [(0.8, 0.5)], walls=SIDES + [(0.5, 0.0, 0.5 + WALL, 1.0)])
    narrow = one((0.3, 0.5), 0.0, [(0.8, 0.5)], walls=SIDES + [(0.5, 0.0, 0.5 + WALL, 1 - WALL - 2 * AGENT_R + 0.01)])
    wide = one((0.3, 0.5), 0.0, [(0.8, 0.5)], walls=SIDES + [(0.5, 0.0, 0.5 + WALL, 1 - WALL - 2 * AGENT_R - 0.02)])
    assert not sealed.solvable()[0] and not narrow.solvable()[0] and wide.solvable()[0]
    assert wide.steps_to_gold(cap=100)[0] < 100
    # Two pieces: the nearer one walled off, the other reached.
    two = one((0.3, 0.5), 0.0, [(0.55 + WALL, 0.5), (0.2, 0.2)], walls=SIDES + [(0.45, 0.0, 0.45 + WALL, 1.0)])
    assert two.solvable()[0] and two.steps_to_gold(cap=100)[0] < 100

    full = game.make_scenes(100, 11, "full")
    assert not full.solvable().all(), "interior walls sometimes cut the board in two"
    fixed = game.make_scenes(100, 11, "full", solvable=True)
    again = game.make_scenes(100, 11, "full", solvable=True)
    assert fixed.solvable().all() and np.array_equal(fixed.agent, again.agent)
    kept = full.solvable()
    assert np.array_equal(fixed.agent[kept], full.agent[kept]), "solvable scenes are kept as drawn"
    assert (fixed.steps_to_gold(cap=100) < 100).mean() >= 0.95


def test_oracles_use_the_nearest_gold() -> None:
    s = one((0.5, 0.5), 0.0, [(0.9, 0.15), (0.6, 0.8)])
    assert np.allclose(s.nearest_gold()[0], (0.6, 0.8))
    assert s.turn_towards_gold()[0] == ANTICLOCKWISE


def test_seeded_scenes_follow_the_rules_and_repeat_with_their_seed() -> None:
    for kind in ("bare", "full"):
        s = game.make_scenes(300, 4, kind)
        again = game.make_scenes(300, 4, kind)
        assert np.array_equal(s.walls, again.walls, equal_nan=True) and np.array_equal(s.agent, again.agent)
        assert not s.blocked(s.agent[:, None]).any()
        assert (s.gold_distance().min(axis=1) >= EAT).all()
        gold_count = (~np.isnan(s.gold[:, :, 0])).sum(axis=1)
        walls = (~np.isnan(s.walls[:, :, 0])).sum(axis=1)
        if kind == "bare":
            assert (gold_count == 1).all() and set(walls) == {4, 5}
        else:
            assert set(gold_count) == {1, 2} and set(walls) <= {5, 6, 7} and len(set(walls)) >= 2
    bare = game.make_scenes(2000, 1, "bare")
    with_gap = (~np.isnan(bare.walls[:, :, 0])).sum(axis=1) == 5
    assert 0.45 < with_gap.mean() < 0.55
    assert not np.array_equal(game.make_scenes(5, 1).agent, game.make_scenes(5, 2).agent)


def test_scenes_save_and_load_exactly(tmp_path: Path) -> None:
    s = game.make_scenes(6, 3, "full")
    path = game.save_scenes(s.scenes(), tmp_path / "scenes.json")
    back = Scenes.from_scenes(game.load_scenes(path))
    assert np.array_equal(back.walls, s.walls, equal_nan=True) and np.array_equal(back.gold, s.gold, equal_nan=True)
    assert np.array_equal(back.agent, s.agent) and np.array_equal(back.heading, s.heading)


def test_object_centres_come_back_from_the_colour_masks_within_a_pixel() -> None:
    s = game.make_scenes(500, 5, "bare")
    pictures = render.render_indices(s, 96)
    agent = render.colour_centres(pictures, (render.GREEN, render.RED))
    gold = render.colour_centres(pictures, (render.GOLD,))
    assert np.abs(agent - s.agent).max() * 96 < 1.0
    assert np.abs(gold - s.gold[:, 0]).max() * 96 < 1.0


def test_the_picture_puts_x_to_the_right_and_y_up_in_the_original_colours() -> None:
    s = one((0.25, 0.75), 0.0, [(0.75, 0.25)])
    rgb = render.render(s, 96)[0]
    assert tuple(rgb[24, 24]) == (0, 255, 0), "the agent, up and left"
    assert tuple(rgb[72, 72]) == (255, 200, 0), "the gold, down and right"
    assert tuple(rgb[48, 48]) == (255, 255, 255) and tuple(rgb[0, 48]) == (0, 0, 0)
    eye = render.colour_centres(render.render_indices(s, 96), (render.RED,))[0]
    assert eye[0] > 0.25 and abs(eye[1] - 0.75) < 1 / 96, "the eye looks along the heading"


def test_variants_are_renders_of_the_scene_without_parts_or_with_a_line_or_zoomed() -> None:
    s = game.make_scenes(4, 6, "full")
    full = render.render_indices(s, 64)
    assert not np.isin(render.render_indices(s, 64, omit={"agent"}), (render.GREEN, render.RED)).any()
    assert not (render.render_indices(s, 64, omit={"gold"}) == render.GOLD).any()
    walls_only = render.render_indices(s, 64, omit={"agent", "gold"})
    assert set(np.unique(walls_only)) == {render.WHITE, render.BLACK}
    assert not (render.render_indices(s, 64, omit={"walls"}) == render.BLACK).any()
    lined = render.render_indices(s, 64, line=(s.gold_angle(), np.full(4, 0.2)))
    assert (lined == render.BLUE).any(axis=(1, 2)).all() and not (full == render.BLUE).any()
    zoomed = render.render_indices(s, 64, view=render.zoom_view(s.agent, 6))
    green = (zoomed == render.GREEN).sum(axis=(1, 2))
    assert (green > 20 * (full == render.GREEN).sum(axis=(1, 2))).all(), "the agent fills much more of a 6x zoom"
    with pytest.raises(ValueError, match="omit"):
        render.render(s, 64, omit={"you"})
