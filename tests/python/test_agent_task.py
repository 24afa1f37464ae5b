"""The agent task end to end: its config, its batch source, training through the engine's learner
(with exact resume), and the trained model answering, imagining, acting and being scored."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tiny_agent_trainer import _core
from tiny_agent_trainer.config import Config, ConfigError
from tiny_agent_trainer.tasks import registry
from tiny_agent_trainer.tasks.agent import evaluate, game, render
from tiny_agent_trainer.tasks.agent import task as agent_task
from tiny_agent_trainer.tasks.agent.frameworks import base
from tiny_agent_trainer.tasks.agent.model import PLAN_PROMPT, AgentModel

TINY = """
[task]
name = "agent_tiny"
kind = "agent"

[model]
architecture = "agent"
image_size = 24
patch_size = 8
d_model = 32
nhead = 2
num_layers = 1
dim_feedforward = 64
decoder_layers = 1
max_text_len = 24
object_frame = [[0, 255, 0], [255, 0, 0]]
pixel_decoder = 4
decoder_prompt = true
gated_feedforward = true

[training]
epochs = 2
steps_per_epoch = 3
batch_size = 4
learning_rate = 1e-3
warmup_steps = 0
early_stopping = false
seed = 3

[tokenizer]
type = "words"

[dataset]
eval_size = 6

[frameworks]
weights = { position_qa = 1, imagine_without_agent = 1, mem_canvas_use = 1, complex_loss_v1 = 1 }
"""


def tiny(tmp_path: Path, extra: str = "", name: str = "agent.toml") -> Config:
    path = tmp_path / name
    path.write_text(TINY + extra)
    return Config.from_toml(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda t: t[: t.index("[frameworks]")], "frameworks"),
        (lambda t: t.replace('type = "words"', 'type = "wgsl"'), "tokenizer.type"),
        (lambda t: t.replace("steps_per_epoch = 3", "steps_per_epoch = 0"), "training.steps_per_epoch"),
        (lambda t: t.replace("position_qa = 1", "position_qa = -1"), "frameworks.weights.position_qa"),
        (
            lambda t: t.replace("[frameworks]", "[frameworks]\ncolour_balance = { imagine_without_agent = 1.5 }"),
            "frameworks.colour_balance.imagine_without_agent",
        ),
        (lambda t: t.replace("patch_size = 8", "patch_size = 7"), "model.patch_size"),
        (lambda t: t.replace("[[0, 255, 0], [255, 0, 0]]", "[[0, 255, 0]]"), "model.object_frame"),
        (lambda t: t.replace("[[0, 255, 0], [255, 0, 0]]", "[[0, 255, 0], [256, 0, 0]]"), "model.object_frame"),
        (lambda t: t.replace("pixel_decoder = 4", "pixel_decoder = -1"), "model.pixel_decoder"),
        (lambda t: t.replace("object_frame = [[0, 255, 0], [255, 0, 0]]", "rays = 8"), "model.rays"),
        (lambda t: t.replace("pixel_decoder = 4", "pixel_decoder = 4\nrays = 8\nray_colour = [0, 0]"), "model.ray_colour"),
    ],
)
def test_an_agent_config_is_checked_field_by_field(tmp_path: Path, change: Any, field: str) -> None:
    (tmp_path / "bad.toml").write_text(change(TINY))
    with pytest.raises(ConfigError, match=f"field `{field}`"):
        Config.from_toml(tmp_path / "bad.toml")


def test_the_source_is_a_pure_function_of_seed_and_step(tmp_path: Path) -> None:
    source = agent_task.Source(tiny(tmp_path))
    a, b = source.batch(3, 5), source.batch(3, 5)
    assert a["framework"] == b["framework"] and a["prompt"] == b["prompt"]
    np.testing.assert_array_equal(a["image"], b["image"])
    assert a["image"].shape == (4, 24, 24, 3) and a["image"].dtype == np.uint8
    frameworks = {tuple(source.batch(3, s)["framework"]) for s in range(30)}
    trained = ["position_qa", "imagine_without_agent", "mem_canvas_use", "complex_loss_v1"]
    assert frameworks == {(name,) for name in trained}
    assert [v["framework"][0] for v in source.validation()] == trained
    words = {w for t in source.vocabulary() for w in t.split()}
    assert {"left", "right", "gold", "<eos>"} <= words


def test_the_mixer_rejects_an_unknown_framework(tmp_path: Path) -> None:
    config = tiny(tmp_path, name="a.toml")
    config.frameworks.weights["no_such_framework"] = 1.0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="no_such_framework"):
        agent_task.Source(config)


def test_colour_balance_names_frameworks_the_registry_knows(tmp_path: Path) -> None:
    config = tiny(tmp_path, name="a.toml").with_overrides(["frameworks.colour_balance={ imagine_without_gold = 1 }"])
    agent_task.Source(config)  # a framework the mixture leaves out may be named
    config = config.with_overrides(["frameworks.colour_balance={ imagine_without_gld = 1 }"])
    with pytest.raises(ValueError, match=r"frameworks.colour_balance.imagine_without_gld: unknown framework"):
        agent_task.Source(config)


def test_an_agent_trains_on_recorded_visits_and_is_scored_on_their_held_out_games(tmp_path: Path, agent_visits: str) -> None:
    without = tiny(tmp_path, name="a.toml").with_overrides(["frameworks.weights={ visited_qa = 1, position_qa = 1 }"])
    with pytest.raises(ValueError, match=r"frameworks.weights.visited_qa: .*Fix: record some"):
        agent_task.Source(without)
    config = without.with_overrides([f'frameworks.visits=["{agent_visits}"]', f'training.output_dir="{tmp_path / "run"}"'])
    source = agent_task.Source(config)
    assert [v["framework"][0] for v in source.validation()] == ["position_qa", "visited_qa"]
    run = agent_task.train(config)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert "answers_right/visited_qa" in metrics[-1]["extra"]
    # The harness asks visited_qa about the held-out games of the run's own visits.
    assert agent_task.run_visits(run) == [agent_visits]
    report = agent_task.evaluate(run, n=8, episodes=0)
    assert "visited_qa" in {q.framework for q in report.questions}


def test_a_run_from_a_checkpoint_reads_the_words_its_new_frameworks_bring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first run's tokenizer lacks way_to_gold's words (as a run written before the framework
    # existed); a run from its weights keeps every id and learns to read them.
    full = agent_task.Source.vocabulary
    monkeypatch.setattr(agent_task.Source, "vocabulary", lambda self: [t for t in full(self) if "stretch" not in t])
    first = agent_task.train(tiny(tmp_path, name="a.toml").with_overrides([f'training.output_dir="{tmp_path / "first"}"']))
    monkeypatch.undo()
    old = json.loads((first / "last" / "tokenizer.json").read_text())["pieces"]
    assert "stretch" not in old
    starts: list[dict[str, Any]] = []
    config = tiny(tmp_path, name="b.toml").with_overrides([
        f'training.output_dir="{tmp_path / "second"}"', f'training.init_from="{first}"',
        "frameworks.weights={ position_qa = 1, way_to_gold = 1 }",
    ])
    second = agent_task.train(config, on_start=lambda kind, seed, info: starts.append(info))
    new = json.loads((second / "last" / "tokenizer.json").read_text())["pieces"]
    assert new[: len(old)] == old and "stretch" in new[len(old) :]
    assert f"embed: the checkpoint's {len(old)} rows of {len(new)}" in starts[0]["init_from"]
    model = AgentModel.load(second)
    assert model.plans(render.render(game.make_scenes(2, 0), 24)).shape == (2, 24, 24, 3)


def test_an_agent_with_rays_trains_from_a_run_without_them_and_answers_with_canvases(tmp_path: Path) -> None:
    first = agent_task.train(tiny(tmp_path, name="a.toml").with_overrides([f'training.output_dir="{tmp_path / "first"}"']))
    starts: list[dict[str, Any]] = []
    config = tiny(tmp_path, name="b.toml").with_overrides([
        f'training.output_dir="{tmp_path / "rays"}"', f'training.init_from="{first}"', "model.rays=8",
    ])
    run = agent_task.train(config, on_start=lambda kind, seed, info: starts.append(info))
    # The rays' embedding and identities are new; everything else comes from the first run.
    assert "3 kept their initialisation" in starts[0]["init_from"]
    model = AgentModel.load(run)
    batch = base.get("mem_canvas_use").make(3, np.random.default_rng(0), 24)
    assert batch.canvases.shape[1] > 0
    texts, pictures = model.answers(batch.image, batch.prompt, batch.canvases, pictures=True)
    assert len(texts) == 3 and pictures is not None and pictures.shape == (3, 24, 24, 3)


def weights(run: Path) -> bytes:
    return (run / "last" / "model.safetensors").read_bytes()


def assert_ctrl_c_in_a_batch_saves_last_and_resumes_exactly(tmp_path: Path, straight: bytes) -> None:
    """Ctrl-C while the source makes a batch: Python's handler raises KeyboardInterrupt there, in
    the data call, not between steps. The run still saves `last` after the steps it finished, says
    so, and resumes to the straight run's weights."""
    config = tiny(tmp_path, name="c.toml").with_overrides([f'training.output_dir="{tmp_path / "ctrl_c"}"'])
    made = agent_task.Source.batch

    def interrupted_at_step_4(self: agent_task.Source, seed: int, step: int) -> dict[str, Any]:
        if step == 4:  # the second batch of the second epoch (3 steps an epoch)
            raise KeyboardInterrupt
        return made(self, seed, step)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agent_task.Source, "batch", interrupted_at_step_4)
        with pytest.raises(KeyboardInterrupt) as caught:
            agent_task.train(config)
    assert "saved" in str(caught.value) and "--resume" in str(caught.value), str(caught.value)
    state = json.loads((tmp_path / "ctrl_c" / "last" / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch_in_epoch"]) == (4, 1, 1)
    agent_task.train(config, resume=True)
    assert weights(tmp_path / "ctrl_c") == straight


def test_an_agent_trains_resumes_exactly_answers_imagines_acts_and_is_scored(tmp_path: Path) -> None:
    straight = tiny(tmp_path).with_overrides([f'training.output_dir="{tmp_path / "straight"}"'])
    run = agent_task.train(straight)
    assert run == tmp_path / "straight"
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 2
    extra = metrics[-1]["extra"]
    assert {"answers_right/position_qa", "image_loss/imagine_without_agent", "complex_loss/complex_loss_v1"} <= set(extra)
    assert math.isfinite(extra["complex_loss/complex_loss_v1"]) and extra["complex_loss/complex_loss_v1"] > 0
    # Stopped after the first epoch, then resumed: the same weights as the straight run.
    halves = tiny(tmp_path, name="b.toml").with_overrides([f'training.output_dir="{tmp_path / "halves"}"'])

    class Stop(Exception):
        pass

    def stop(metrics: dict[str, Any]) -> None:
        raise Stop

    with pytest.raises(Stop):
        agent_task.train(halves, on_epoch=stop)
    assert weights(run) != weights(tmp_path / "halves")
    agent_task.train(halves, resume=True)
    assert weights(run) == weights(tmp_path / "halves")
    assert_ctrl_c_in_a_batch_saves_last_and_resumes_exactly(tmp_path, weights(run))

    assert registry.module_for_run(run) is agent_task
    model = AgentModel.load(run)
    scene = game.make_scenes(1, 0).scenes()[0]
    assert isinstance(model.answer(scene, "is the gold to your left or to your right"), str)
    picture = model.imagine(scene, "imagine the room without you")
    assert picture.shape == (24, 24, 3) and picture.dtype == np.uint8
    assert len(model.memory) == 1
    # Its pictures are decoded to the game's colours: every pixel the nearest of them.
    raw = AgentModel.load(run, palette=False)
    drawn = raw.imagine(scene, "imagine the room without you")
    def nearest(pictures: np.ndarray) -> np.ndarray:
        d = ((pictures.reshape(-1, 1, 3).astype(int) - render.PALETTE.astype(int)) ** 2).sum(-1)
        return render.PALETTE[d.argmin(1)]

    assert np.array_equal(picture.reshape(-1, 3), nearest(drawn))
    noisy = np.random.default_rng(0).integers(0, 256, (2, 24, 24, 3), dtype=np.uint8)
    assert np.array_equal(model.decode(noisy).reshape(-1, 3), nearest(noisy))
    assert np.array_equal(raw.decode(noisy), noisy)
    assert model.act(scene) in (None, *range(len(game.MOVES)))
    # Sampled answers: the same seed and calls give the same answers; a temperature near zero
    # gives the greedy ones, a hot one others; a negative one is refused. In fp32: a barely
    # trained model's bf16 logits can tie, and a tie is the greedy answer's only by index.
    images = render.render(game.make_scenes(16, 1), 24)
    prompts = ["is the gold to your left or to your right"] * 16
    greedy, _ = AgentModel.load(run, precision="fp32").answers(images, prompts)
    def sampled(temperature: float, seed: int) -> list[str]:
        return AgentModel.load(run, temperature=temperature, seed=seed, precision="fp32").answers(images, prompts)[0]

    assert sampled(1.0, 3) == sampled(1.0, 3)
    assert sampled(1e-6, 3) == greedy
    hot = sampled(100.0, 3)
    assert sum(h != g for h, g in zip(hot, greedy)) >= 8 and hot != sampled(100.0, 4)
    with pytest.raises(ValueError, match="temperature"):
        AgentModel.load(run, temperature=-1.0)
    episode = model.episode(0, steps=3)
    assert len(episode.history) <= 3 and model.memory == []
    # Remembering the moves made: asked again where it stands (the scene unchanged), it makes
    # each of the three moves once before any twice, the likeliest first; reset forgets them.
    rememberer = AgentModel.load(run, remember_moves=True)
    question = evaluate.move_question()
    asked = base.get(question.framework).ask(game.Scenes.from_scenes([scene]), question.question, np.random.default_rng(0), 24)
    likeliest = question.moves[int(rememberer.move_scores(asked, question)[0].argmax())]
    made = [rememberer.act(scene) for _ in range(4)]
    assert sorted(made[:3]) == sorted(question.moves) and made[0] == likeliest and made[3] == likeliest
    rememberer.reset()
    assert rememberer.act(scene) == likeliest
    assert rememberer.episode(0, steps=3).invalid == 0
    scored = rememberer.scores(images[:2], prompts[:2], ["left", "right"])
    assert scored.shape == (2,) and (scored < 0).all()
    # The candidates of one picture never straddle two engine calls (they share its pass).
    sizes: list[int] = []
    engine = rememberer._agent
    class Counting:
        def score(self, *args: Any) -> Any:
            sizes.append(len(args[2]))
            return engine.score(*args)
    rememberer._agent = Counting()  # type: ignore[assignment]
    runs = 90  # 270 rows: more than one call holds
    candidates = ["left", "right", "left"]
    pictures = np.concatenate([images] * 6)[:runs]
    tripled = rememberer.scores(np.repeat(pictures, 3, axis=0), [prompts[0]] * (3 * runs), candidates * runs, per_picture=3)
    rememberer._agent = engine
    assert tripled.shape == (3 * runs,) and len(sizes) > 1 and all(size % 3 == 0 for size in sizes), sizes
    with pytest.raises(ValueError, match="per_picture"):
        rememberer.scores(images[:1], prompts[:1], ["left"], per_picture=0)
    with pytest.raises(ValueError, match="remember_moves"):
        AgentModel.load(run, remember_moves=True, plan=True)
    with pytest.raises(_core.UsageError, match="no word"):
        rememberer.scores(images[:1], prompts[:1], ["sideways"])
    # The state at BOS the decoder reads: one row per prompt, the same for the same picture and
    # prompt whatever else the call holds, another for another prompt.
    asks = ["imagine the room without you", "imagine only the walls", "imagine the room without you"]
    exact = AgentModel.load(run, precision="fp32")
    states = exact.prompt_states(images[[0, 0, 0]], asks)
    assert states.shape == (3, 32) and states.dtype == np.float32
    assert np.allclose(states[0], states[2], atol=1e-5) and not np.allclose(states[0], states[1], atol=1e-3)
    assert np.allclose(exact.prompt_states(images[:1], asks[:1])[0], states[0], atol=1e-5)
    # Planning: the model draws its plan first, and that drawing is the only canvas of
    # every best-move answer; the batch's other questions are asked as they come.
    planner = AgentModel.load(run, plan=True)
    calls: list[tuple[list[str], np.ndarray, bool]] = []
    call = planner._call
    def spy(images: np.ndarray, canvases: np.ndarray, prompts: list[str], pictures: bool) -> Any:
        calls.append((prompts, canvases.copy(), pictures))
        return call(images, canvases, prompts, pictures)

    planner._call = spy  # type: ignore[method-assign]
    batch = base.get("relposition_qa").make(12, np.random.default_rng(5), 24)
    best = batch.question == 2
    assert 0 < best.sum() < 12
    answered = planner(batch).answers
    drawn = model.plans(batch.image[best])
    assert [c[0] for c in calls] == [[PLAN_PROMPT] * int(best.sum()), [batch.prompt[i] for i in np.nonzero(best)[0]],
                                     [batch.prompt[i] for i in np.nonzero(~best)[0]]]
    assert np.array_equal(calls[1][1], drawn[:, None]) and calls[2][1].shape[1] == 0
    assert [answered[i] for i in np.nonzero(best)[0]] == model.answers(batch.image[best], [batch.prompt[i] for i in np.nonzero(best)[0]], drawn[:, None])[0]
    assert [answered[i] for i in np.nonzero(~best)[0]] == model.answers(batch.image[~best], [batch.prompt[i] for i in np.nonzero(~best)[0]])[0]
    calls.clear()
    assert planner.act(scene) in (None, *range(len(game.MOVES)))
    assert [c[0] for c in calls] == [[PLAN_PROMPT], [base.get("relposition_qa").questions[2].prompts[0]]]
    assert len(planner.memory) == 1 and np.array_equal(calls[1][1][0, 0], planner.memory[0])
    report = agent_task.evaluate(run, n=8, frameworks=["position_qa", "imagine_without_agent"], episodes=2)
    assert {q.framework for q in report.questions} == {"position_qa"}
    assert [i.framework for i in report.images] == ["imagine_without_agent"]
    assert (run / agent_task.REPORT_NAME).is_file()
    assert isinstance(evaluate.move_question().question, str)

    import tiny_agent_trainer as tat
    from click.testing import CliRunner

    from tiny_agent_trainer.cli import main

    assert isinstance(tat.load(run), AgentModel)
    runner = CliRunner()
    args = ["agent", "eval", "--policy", str(run), "-n", "4", "--framework", "position_qa", "--size", "24", "--episodes", "1"]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and "position_qa" in result.output
    result = runner.invoke(main, [*args, "--temperature", "1"], catch_exceptions=False)
    assert result.exit_code == 0 and "position_qa" in result.output
    result = runner.invoke(main, ["agent", "eval", "--policy", "oracle", "-n", "4", "--temperature", "1"])
    assert result.exit_code == 2 and "only a trained agent's answers are sampled" in result.output
    result = runner.invoke(main, [*args, "--plan"], catch_exceptions=False)
    assert result.exit_code == 0 and "position_qa" in result.output
    result = runner.invoke(main, ["agent", "eval", "--policy", "oracle", "-n", "4", "--plan"])
    assert result.exit_code == 2 and "only a trained agent draws its plan" in result.output
    result = runner.invoke(main, [*args, "--remember-moves"], catch_exceptions=False)
    assert result.exit_code == 0 and "position_qa" in result.output
    result = runner.invoke(main, ["agent", "eval", "--policy", "oracle", "-n", "4", "--remember-moves"])
    assert result.exit_code == 2 and "only a trained agent ranks its moves" in result.output
    result = runner.invoke(main, [*args, "--remember-moves", "--plan"])
    assert result.exit_code == 2 and "remember_moves ranks the moves" in result.output
    args = ["agent", "eval", "--policy", str(run), "-n", "4", "--framework", "imagine_without_agent", "--size", "24"]
    for flag in ([], ["--raw-pictures"]):
        result = runner.invoke(main, [*args, *flag, "--episodes", "0", "--json"], catch_exceptions=False)
        report = json.loads(result.output[result.output.index("{") :])  # after the progress lines
        assert result.exit_code == 0 and report["images"][0]["framework"] == "imagine_without_agent"
    gif = tmp_path / "episode.gif"
    args = ["agent", "episode", "--policy", str(run), "--size", "24", "--steps", "2", "--out", str(gif)]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and gif.is_file()
    # The curves per framework (`tat plot RUN`) and the model's replies beside the truth.
    result = runner.invoke(main, ["plot", str(run)], catch_exceptions=False)
    assert result.exit_code == 0 and (run / "curves.png").is_file()
    shown = tmp_path / "replies.png"
    args = ["agent", "show", "--framework", "imagine_without_agent", "-n", "2", "--size", "24", "--policy", str(run)]
    result = runner.invoke(main, [*args, "--out", str(shown)], catch_exceptions=False)
    assert result.exit_code == 0 and shown.stat().st_size > 1000
    result = runner.invoke(main, ["agent", "eval", "--policy", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "neither oracle nor majority nor a run folder" in result.output


def test_the_curves_give_each_logged_step_the_framework_that_made_its_batch(tmp_path: Path) -> None:
    from tiny_agent_trainer.tasks.agent.draw import step_frameworks

    made: list[str] = []

    class Recording(agent_task.Source):
        def batch(self, seed: int, step: int) -> dict[str, Any]:
            made.append(self.mixer.framework_at(step))
            return super().batch(seed, step)

    config = tiny(tmp_path).with_overrides([f'training.output_dir="{tmp_path / "run"}"'])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(agent_task, "Source", Recording)
        run = agent_task.train(config)
    logged = np.loadtxt(run / "steps.csv", delimiter=",", skiprows=1, ndmin=2)[:, 0]
    mixer = agent_task.Source(config).mixer
    assert len(made) == len(logged) == 6 and len(set(made)) > 1
    assert list(step_frameworks(mixer, logged)) == made


def test_the_curves_leave_out_a_frameworks_validations_before_its_first_step() -> None:
    from tiny_agent_trainer.tasks.agent.draw import _once_trained

    at = [250, 500, 750]
    drawn = _once_trained(at, [1e-16, 0.02, 0.01], first_step=251)
    assert math.isnan(drawn[0]) and drawn[1:] == [0.02, 0.01]
    assert _once_trained(at, [0.5, 0.4, 0.3], first_step=250) == [0.5, 0.4, 0.3]
    assert all(math.isnan(v) for v in _once_trained(at, [0.5, 0.4, 0.3], first_step=None))


def test_train_seed_is_the_runs_seed_and_a_seed_list_is_refused(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tiny_agent_trainer.cli import main

    path = tmp_path / "agent.toml"
    path.write_text(TINY)  # training.seed = 3
    runner = CliRunner()
    runs = {}
    for name, flags in [("plain", []), ("seed3", ["--seed", "3"]), ("seed4", ["--seed", "4"])]:
        out = tmp_path / name
        args = ["train", str(path), "--epochs", "1", "--out", str(out), *flags]
        result = runner.invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        runs[name] = weights(out)
    assert runs["seed3"] == runs["plain"], "--seed 3 is the config's own seed"
    assert runs["seed4"] != runs["plain"], "--seed 4 must change the run"

    (tmp_path / "listed.toml").write_text(TINY.replace('kind = "agent"', 'kind = "agent"\nseeds = [1, 2]'))
    with pytest.raises(ConfigError, match="field `task.seeds`.*one run"):
        agent_task.train(Config.from_toml(tmp_path / "listed.toml"))


def test_the_engine_refuses_an_agent_config_without_its_batches(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(TINY)
    with pytest.raises(_core.UsageError, match="Python frameworks"):
        _core.train(None, str(path))
