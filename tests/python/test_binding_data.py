"""The variable-binding task's data: the reference interpreter, its errors, and the splits'
promises (sizes, disjointness, what each holds out of training, determinism)."""

from __future__ import annotations

import pytest

from tiny_agent_trainer.tasks import binding
from tiny_agent_trainer.tasks.binding import (
    ACTIONS,
    SEED_PROGRAMS,
    VARIABLES_EVAL,
    VARIABLES_TRAIN,
    BindingError,
    Example,
    Trace,
    make_splits,
    run_program,
    trace,
)


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Example]]:
    return make_splits(seed=0)


@pytest.fixture(scope="module")
def traces(splits: dict[str, list[Example]]) -> dict[str, list[Trace]]:
    return {name: [trace(e.program) for e in examples] for name, examples in splits.items()}


def direct_pairs(t: Trace) -> set[tuple[str, str]]:
    return {(b.variable, b.value) for b in t.bindings if b.value in ACTIONS}


# --- the interpreter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "output"),
    [
        ("X means jump do X", "JUMP"),
        ("X means jump do X now X means walk do X", "JUMP WALK"),
        ("X means run Y means X do Y twice", "RUN RUN"),
        ("X means jump do X twice left", "JUMP LEFT JUMP LEFT"),
        ("X means hop do X thrice right", "HOP RIGHT HOP RIGHT HOP RIGHT"),
        ("X means jump Y means X X means walk do Y then do X", "JUMP WALK"),
        ("X means swim do X X means crawl do X", "SWIM CRAWL"),
        ("P means look Q means P R means Q S means R do S left", "LOOK LEFT"),
    ],
)
def test_run_program(program: str, output: str) -> None:
    assert run_program(program) == output


def test_source_positions_follow_chains_and_point_directions_at_their_word() -> None:
    t = trace("X means run Y means X X means walk do Y twice left then do X")
    assert t.output == "RUN LEFT RUN LEFT WALK"
    assert t.source_positions == (2, 12, 2, 12, 8)
    assert [b.depth for b in t.bindings] == [0, 1, 0]
    reads = [(c.variable, c.depth, c.rebound) for c in t.commands]
    assert reads == [("Y", 1, False), ("X", 0, True)]


@pytest.mark.parametrize(
    ("program", "word", "position"),
    [
        ("X means leap do X", "leap", 2),
        ("X means jump do Q", "Q", 4),
        ("means jump do X", "means", 0),
        ("X means jump twice do X", "twice", 3),
        ("X means jump do X left twice", "twice", 6),
        ("X means jump left", "left", 3),
        ("X means jump do X then", "then", 5),
        ("X means jump then do X", "then", 3),
        ("now X means jump do X", "now", 0),
        ("X means jump now do X", "now", 3),
        ("X means Y do X", "Y", 2),
        ("X jump do X", "X", 0),
        ("X means jump do", "do", 3),
        ("X means jump do jump", "jump", 4),
        ("X means", "means", 1),
        ("X means do do X", "do", 2),
        ("jump", "jump", 0),
    ],
)
def test_errors_name_the_word_and_its_position(program: str, word: str, position: int) -> None:
    with pytest.raises(BindingError) as caught:
        run_program(program)
    assert (caught.value.word, caught.value.position) == (word, position)
    assert f"{word!r} at position {position}" in str(caught.value)


def test_programs_without_a_command_are_errors() -> None:
    with pytest.raises(BindingError, match="empty"):
        run_program("   ")
    with pytest.raises(BindingError, match="no 'do VAR' command"):
        run_program("X means jump")


def test_binding_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        run_program("do X")


# --- the splits --------------------------------------------------------------------------------


def test_split_names_and_sizes(splits: dict[str, list[Example]]) -> None:
    assert tuple(splits) == binding.SPLITS
    assert len(splits["train"]) == 20000
    for name in binding.SPLITS[1:-1]:
        assert len(splits[name]) == 1000, name
    assert len(splits["seed_modification"]) == 4


def test_splits_are_disjoint(splits: dict[str, list[Example]]) -> None:
    programs = [e.program for examples in splits.values() for e in examples]
    assert len(programs) == len(set(programs))


def test_examples_carry_the_interpreters_output_and_their_split(
    splits: dict[str, list[Example]], traces: dict[str, list[Trace]]
) -> None:
    for name, examples in splits.items():
        for example, t in zip(examples, traces[name]):
            assert example.split == name
            assert (example.output, example.source_positions) == (t.output, t.source_positions)


def test_source_positions_point_at_words_that_spell_the_output(
    splits: dict[str, list[Example]],
) -> None:
    for examples in splits.values():
        for e in examples:
            words, output = e.program.split(), e.output.split()
            assert len(e.source_positions) == len(output)
            for produced, position in zip(output, e.source_positions):
                assert words[position].upper() == produced
                assert words[position] in ACTIONS or produced in ("LEFT", "RIGHT")


def test_held_out_pairs_are_never_bound_in_training(traces: dict[str, list[Trace]]) -> None:
    held = binding.held_out_pairs(0)
    assert len(held) == round(0.2 * len(VARIABLES_TRAIN) * len(ACTIONS))
    train_pairs = set().union(*(direct_pairs(t) for t in traces["train"]))
    assert not held & train_pairs
    assert {v for v, _ in train_pairs} == set(VARIABLES_TRAIN)
    assert {a for _, a in train_pairs} == set(ACTIONS)
    assert ("X", "jump") in train_pairs and ("X", "walk") in train_pairs
    for t in traces["pairings"]:
        assert direct_pairs(t) and direct_pairs(t) <= held


def test_eval_variables_appear_only_in_new_variables(splits: dict[str, list[Example]]) -> None:
    for name, examples in splits.items():
        for e in examples:
            eval_words = set(e.program.split()) & set(VARIABLES_EVAL)
            if name == "new_variables":
                assert eval_words and not set(e.program.split()) & set(VARIABLES_TRAIN)
            else:
                assert not eval_words, (name, e.program)


def test_chain_depth_is_at_most_two_in_training_and_three_or_four_in_chains(
    traces: dict[str, list[Trace]],
) -> None:
    assert max(t.max_depth for t in traces["train"]) == 2
    depths = {max(c.depth for c in t.commands) for t in traces["chains"]}
    assert depths == {3, 4}
    assert all(len(t.bindings) <= binding.MAX_TRAIN_BINDINGS for t in traces["chains"])


def test_length_has_more_bindings_than_training(traces: dict[str, list[Trace]]) -> None:
    assert max(len(t.bindings) for t in traces["train"]) == binding.MAX_TRAIN_BINDINGS
    assert min(len(t.bindings) for t in traces["length"]) > binding.MAX_TRAIN_BINDINGS
    assert max(t.max_depth for t in traces["length"]) <= 2


def test_training_has_rebinding_and_composition_and_their_splits_always_do(
    traces: dict[str, list[Trace]],
) -> None:
    def rebinds(t: Trace) -> bool:
        return any(c.rebound for c in t.commands)

    def composes(t: Trace) -> bool:
        return any(c.repeat > 1 and c.direction for c in t.commands)

    train = traces["train"]
    assert sum(map(rebinds, train)) / len(train) > 0.15
    assert sum(map(composes, train)) / len(train) > 0.15
    assert all(map(rebinds, traces["rebinding"]))
    assert all(map(composes, traces["composition"]))


def test_seed_modification_is_exactly_the_four_original_cases(
    splits: dict[str, list[Example]],
) -> None:
    pairs = [(e.program, e.output) for e in splits["seed_modification"]]
    assert pairs == [
        ("X means jump do X", "JUMP"),
        ("X means walk do X", "WALK"),
        ("X means jump do X twice", "JUMP JUMP"),
        ("X means walk do X twice", "WALK WALK"),
    ]
    assert set(SEED_PROGRAMS) == {p for p, _ in pairs}


def test_splits_are_deterministic_for_a_seed() -> None:
    first = make_splits(seed=3, train_size=500, eval_size=1000)
    assert first == make_splits(seed=3, train_size=500, eval_size=1000)
    other = make_splits(seed=4, train_size=500, eval_size=1000)
    assert [e.program for e in first["train"]] != [e.program for e in other["train"]]
    assert binding.held_out_pairs(3) != binding.held_out_pairs(4)
