"""One training step of the grid-world agent: the engine against the same model in PyTorch
eager (same shapes, threads, precision), for BENCHMARKS.md.

The shapes are those of `config/agent.toml` (docs/agent.md): 96 px pictures cut into 12 px
patches (64 per picture), width 192, 6 heads, 6 causal pre-LayerNorm layers with SwiGLU
feed-forwards of 512, a picture decoder of 2 layers with its pixel head, batches of 32. Every step trains on one batch made once,
before timing, by one framework (`imagine_without_agent` unless `--framework` names another): its
pictures, canvases, target and foreground mask, and texts of its prompts' and answers' lengths.

- The engine: `_core.train` (what `tat train` runs) with the config's `Source`, except that every
  step's `batch(seed, step)` returns that pre-made batch, so the frameworks' Python drawing is
  left out. A step is the time between two `on_step` calls: the learner's whole step (handing the
  batch over and encoding it, patches, transformer, text head, picture decoder, loss, backward,
  clipping, AdamW).
- PyTorch eager: the same network written with torch modules (`crates/tat-core/src/model/agent.rs`:
  patch encoder with learned patch and slot embeddings, token and text-position embeddings, causal
  pre-LayerNorm transformer over `[canvases, picture, prompt, <bos>, answer]` with the pixel
  summary multiplied into every block, tied text head,
  picture decoder whose queries are the picture's patch tokens and whose layers attend among
  themselves, then to the transformer's final states with padding left out, and draw the change to
  the input's pixels, each pixel reading its places relative to the object tokens where
  `pixel_frame` is on), initialised like the engine's and checked to have its parameter count. The
  same batch's pictures; random token ids laid out as the engine lays out the batch's texts
  (prompt, `<bos>`, answer and `<eos>`, then padding). The same loss
  (`crates/tat-core/src/tasks/agent/mod.rs`: text cross-entropy at the positions that predict the
  answer, plus the pixels' squared error weighing `frameworks.foreground_weight` where the
  foreground mask is set, at least `frameworks.changed_weight` where the changed mask is and at
  least `frameworks.wrong_weight` where the colour is more than 0.5 from the target's),
  `clip_grad_norm_` and `torch.optim.AdamW` (default implementation) with
  the engine's groups and settings (decay on matrices only). Its learning rate stays at the
  config's peak, where the engine's warms up over `training.warmup_steps`: the eager loss falls
  faster, the work of a step is the same.

Both run in this process, one after the other, with the same number of libtorch threads (the
extension and torch share one libtorch), fp32, dropout off as in the config. The engine runs
first, so both run with the C allocator set as the engine sets it for training (freed memory kept
for reuse, README "Training behaviour"): the comparison is of the computation alone. The first
`WARMUP` steps of each are not timed; the median over the timed steps is reported.

Usage::

    .venv/bin/python benches/agent_step.py [--steps 20] [--threads 2] [--framework NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tiny_agent_trainer import _core
from tiny_agent_trainer._config_models import AgentConfig
from tiny_agent_trainer.config import Config
from tiny_agent_trainer.tasks.agent import task
from tiny_agent_trainer.tasks.agent.frameworks import base

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "agent.toml"
WARMUP = 3
# The engine's pixel frame (crates/tat-core/src/model/agent.rs): five places per pixel and token,
# lengths in pixels squashed by tanh(v / FRAME_PIXEL_SCALE), all times FRAME_GAIN.
FRAME_FEATURES, FRAME_PIXEL_SCALE, FRAME_GAIN = 5, 4.0, 8.0
FRAME_MIN_DISTANCE, FRAME_MAX_FRACTION = 0.05, 4.0
PAD, BOS, EOS = 0, 2, 3
"""The word tokenizer's special ids (crates/tat-core/src/tokenizer/mod.rs); words come after."""


# --- the engine ------------------------------------------------------------------------------
class OneBatch(task.Source):
    """The config's source (vocabulary, validation), except that every training step gets the
    same pre-made batch."""

    def __init__(self, config: Config, examples: dict[str, Any]) -> None:
        super().__init__(config)
        self.examples = examples

    def batch(self, seed: int, step: int) -> dict[str, Any]:
        return self.examples


def engine_steps(config: Config, examples: dict[str, Any]) -> tuple[list[float], list[float], dict[str, Any]]:
    """The timed steps' seconds, every step's loss, and the run's description (`on_start`)."""
    stamps: list[float] = []
    losses: list[float] = []
    info: dict[str, Any] = {}

    def on_step(progress: dict[str, Any]) -> None:
        stamps.append(time.perf_counter())
        losses.append(progress["loss"])

    _core.train(config.to_toml(), None, data=OneBatch(config, examples), on_start=info.update, on_step=on_step)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return gaps[WARMUP:], losses, info


# --- PyTorch eager ---------------------------------------------------------------------------
class Attention(nn.Module):
    """Multi-head attention from `x` to `context` over `scaled_dot_product_attention`; `mask`
    (`[B, 1, 1, Lk]` bool) is true at the keys that may be attended."""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask=None, causal: bool = False) -> torch.Tensor:
        b, l, d = x.shape

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, -1, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(context)), split(self.v_proj(context))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
        return self.out_proj(att.transpose(1, 2).reshape(b, l, d))


class Block(nn.Module):
    """Pre-LayerNorm: self-attention, attention to the transformer's states (decoder), GELU
    feed-forward, each added to the residual stream."""

    def __init__(self, m: AgentConfig, cross: bool) -> None:
        super().__init__()
        d = m.d_model
        self.norm_attn, self.attn = nn.LayerNorm(d), Attention(d, m.nhead)
        # The pixel summary's product with the states (transformer blocks only).
        self.film = (
            nn.ModuleDict({
                "norm": nn.LayerNorm(d),
                "summary": nn.Linear(m.pixel_summary, d),
                "gate": nn.Linear(d, d),
                "out": nn.Linear(d, d),
            })
            if not cross and m.pixel_summary > 0
            else None
        )
        self.norm_cross = nn.LayerNorm(d) if cross else None
        self.cross = Attention(d, m.nhead) if cross else None
        self.norm_ff = nn.LayerNorm(d)
        self.up, self.down = nn.Linear(d, m.dim_feedforward), nn.Linear(m.dim_feedforward, d)
        self.gate = nn.Linear(d, m.dim_feedforward) if m.gated_feedforward else None

    def forward(self, x: torch.Tensor, causal: bool, memory=None, mask=None, z=None) -> torch.Tensor:
        h = self.norm_attn(x)
        x = x + self.attn(h, h, causal=causal)
        if self.film is not None and z is not None:
            f = self.film
            x = x + f["out"](f["summary"](z).unsqueeze(1) * f["gate"](f["norm"](x)))
        if self.norm_cross is not None and self.cross is not None:
            x = x + self.cross(self.norm_cross(x), memory, mask)
        h = self.norm_ff(x)
        if self.gate is not None:  # SwiGLU
            return x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x + self.down(F.gelu(self.up(h)))


class AgentNet(nn.Module):
    """The engine's agent model (crates/tat-core/src/model/agent.rs) in torch modules."""

    def __init__(self, m: AgentConfig, vocab: int) -> None:
        super().__init__()
        self.size, self.patch = m.image_size, m.patch_size
        d, pixels, patches = m.d_model, m.patch_size**2 * 3, (m.image_size // m.patch_size) ** 2
        self.patch_in = nn.Linear(pixels, d)
        self.patch_pos = nn.Parameter(torch.randn(patches, d) * 0.02)
        self.slot = nn.Parameter(torch.randn(m.max_canvases + 1, d) * 0.02)
        self.embed = nn.Parameter(torch.randn(vocab, d) * 0.02)
        self.text_pos = nn.Parameter(torch.randn(m.max_text_len, d) * 0.02)
        self.blocks = nn.ModuleList(Block(m, cross=False) for _ in range(m.num_layers))
        self.norm = nn.LayerNorm(d)
        self.decoder = nn.ModuleList(Block(m, cross=True) for _ in range(m.decoder_layers))
        self.decoder_norm = nn.LayerNorm(d)
        self.patch_out = nn.Linear(d, pixels)
        # The pixel head: the patch writes channels per pixel; an MLP over them and the pixel's
        # input colour adds its change.
        c = m.pixel_decoder
        self.decoder_prompt = nn.Linear(d, d) if m.decoder_prompt else None
        # The copy gates: per query, one per canvas slot on the canvas's patch at its place.
        self.copy = nn.Linear(d, max(m.max_canvases, 1)) if m.decoder_copy else None
        # With `pixel_frame` each pixel also reads its place relative to every object token
        # (`pixel_frame` below), and the hidden layer is gated (twice the units).
        self.pixel_frame_on = bool(getattr(m, "pixel_frame", False))
        frame = FRAME_FEATURES * m.object_tokens if self.pixel_frame_on else 0
        self.pixel_head = (
            nn.ModuleDict({
                "channels": nn.Linear(d, m.patch_size**2 * c),
                "hidden": nn.Linear(c + 3 + frame, (2 if frame else 1) * 32),
                "out": nn.Linear(32, 3),
            })
            if c > 0
            else None
        )
        k = m.pixel_summary
        self.pixels = nn.Sequential(nn.Linear(5, k), nn.GELU(), nn.Linear(k, k), nn.GELU()) if k > 0 else None
        # Object tokens: prototype colours on a lattice, a sharp soft-argmax over the picture.
        o = m.object_tokens
        levels = next(n for n in range(1, 8) if n**3 >= o) if o > 0 else 1
        level = torch.linspace(-0.5, 0.5, levels) if levels > 1 else torch.zeros(1)
        lattice = torch.cartesian_prod(level, level, level).view(-1, 3)[:o].clone()
        self.prototype = nn.Parameter(lattice) if o > 0 else None
        self.log_sharpness = nn.Parameter(torch.full((o,), math.log(100.0))) if o > 0 else None
        # An egocentric frame: the tokens nearest the anchor's and the pointer's colours.
        self.frame = None
        if o > 0 and len(m.object_frame) == 2:
            colours = torch.tensor(m.object_frame, dtype=torch.float32) / 255.0 - 0.5
            anchor, pointer = torch.cdist(colours, lattice).argmin(1).tolist()
            self.frame = (anchor, pointer)
        features = 5 + (7 if self.frame is not None else 0)
        bound = 1 / math.sqrt(features)
        self.object_embed = nn.Parameter(torch.empty(o, features, d).uniform_(-bound, bound)) if o > 0 else None
        self.object_id = nn.Parameter(torch.randn(o, d) * 0.02) if o > 0 else None
        # The engine's initialisation: Glorot-uniform weights, zero biases, and a pixel layer
        # that starts at zero, so the decoder starts as a copy of the input.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        nn.init.zeros_(self.patch_out.weight)
        if self.copy is not None:
            nn.init.zeros_(self.copy.weight)
        if self.pixel_head is not None:
            nn.init.zeros_(self.pixel_head["out"].weight)
            if self.pixel_frame_on:  # the places' weights start at zero
                with torch.no_grad():
                    self.pixel_head["hidden"].weight[:, c + 3 :] = 0.0

    def patchify(self, images: torch.Tensor) -> torch.Tensor:
        """`[B, S, S, 3]` pictures -> `[B, P, patch * patch * 3]` patches in [0, 1], row by row."""
        b, n, p = images.shape[0], self.size // self.patch, self.patch
        x = images.float() / 255.0
        return x.view(b, n, p, n, p, 3).permute(0, 1, 3, 2, 4, 5).reshape(b, n * n, p * p * 3)

    def unpatchify(self, patches: torch.Tensor) -> torch.Tensor:
        b, n, p = patches.shape[0], self.size // self.patch, self.patch
        return patches.view(b, n, n, p, p, 3).permute(0, 1, 3, 2, 4, 5).reshape(b, self.size, self.size, 3)

    def picture_tokens(self, patches: torch.Tensor, slot: int) -> torch.Tensor:
        return self.patch_in(patches - 0.5) + self.patch_pos + self.slot[slot]

    def summary(self, images: torch.Tensor) -> torch.Tensor | None:
        """The pixel summary `[B, C]`: the MLP over each pixel's (r, g, b, x, y), max-pooled."""
        if self.pixels is None:
            return None
        b, s = images.shape[0], self.size
        centres = (torch.arange(s, dtype=torch.float32) + 0.5) / s - 0.5
        x = centres.view(1, 1, s, 1).expand(b, s, s, 1)
        y = centres.flip(0).view(1, s, 1, 1).expand(b, s, s, 1)
        return self.pixels(torch.cat([images.float() / 255.0 - 0.5, x, y], 3)).amax((1, 2))

    def object_tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The object tokens `[B, K, d]`: each prototype's softmax over the pixels (minus the
        squared colour distance times the sharpness) gives the expected x and y, their spreads, and
        the presence `exp(-10 d^2)` of the nearest pixel."""
        if self.prototype is None or self.log_sharpness is None or self.object_embed is None:
            return None
        b, s = images.shape[0], self.size
        rgb = images.float().view(b, s * s, 3) / 255.0 - 0.5
        p = self.prototype
        distance = (rgb.square().sum(2, keepdim=True) - 2.0 * rgb @ p.T + p.square().sum(1)).clamp_min(0.0)
        share = (-distance * self.log_sharpness.exp()).softmax(1)
        centres = (torch.arange(s, dtype=torch.float32) + 0.5) * (2.0 / s) - 1.0
        x = centres.view(1, s).expand(s, s).reshape(1, s * s, 1)
        y = centres.flip(0).view(s, 1).expand(s, s).reshape(1, s * s, 1)
        mx, my = (share * x).sum(1), (share * y).sum(1)
        sx = ((share * x.square()).sum(1) - mx.square()).clamp_min(1e-6).sqrt()
        sy = ((share * y.square()).sum(1) - my.square()).clamp_min(1e-6).sqrt()
        parts = [mx, my, sx, sy, (-10.0 * distance.amin(1)).exp()]
        if self.frame is not None:
            anchor, pointer = self.frame
            ax, ay = mx[:, anchor : anchor + 1], my[:, anchor : anchor + 1]
            dx, dy = mx[:, pointer : pointer + 1] - ax, my[:, pointer : pointer + 1] - ay
            norm = (dx.square() + dy.square()).clamp_min(1e-10).sqrt()
            ux, uy = dx / norm, dy / norm
            rx, ry = mx - ax, my - ay
            distance_to_anchor = (rx.square() + ry.square()).clamp_min(1e-10).sqrt()
            parts += [rx, ry, rx * ux + ry * uy, ry * ux - rx * uy, distance_to_anchor, ux.expand_as(mx), uy.expand_as(mx)]
        features = torch.stack(parts, 2)
        # The tokens, and their places (x, y) for `pixel_frame`.
        return torch.einsum("bkf,kfd->bkd", features, self.object_embed) + self.object_id, features[..., :2]

    def pixel_frame(self, xy: torch.Tensor) -> torch.Tensor:
        """Every pixel's place relative to each object token `[B, P, patch * patch, 5 K]`, as the
        engine's `pixel_frame`: along and across the way from the anchor to the token, past the
        token, past the midpoint (in pixels, squashed) and the fraction of the way."""
        assert self.frame is not None
        b, k = xy.shape[:2]
        s, p = self.size, self.patch
        centres = (torch.arange(s, dtype=torch.float32) + 0.5) * (2.0 / s) - 1.0
        x, y = centres.view(1, s).expand(s, s), centres.flip(0).view(s, 1).expand(s, s)
        places = torch.stack([x, y], 2).view(1, s // p, p, s // p, p, 2).permute(0, 1, 3, 2, 4, 5).reshape(1, s * s, 2)
        anchor_at = xy[:, self.frame[0] : self.frame[0] + 1]
        to_token = xy - anchor_at
        distance = to_token.square().sum(2, keepdim=True).clamp_min(FRAME_MIN_DISTANCE**2).sqrt()
        unit = to_token / distance
        along_axes, across_axes = unit.transpose(1, 2), torch.stack([-unit[..., 1], unit[..., 0]], 1)
        from_anchor = places - anchor_at
        along, across = from_anchor @ along_axes, from_anchor @ across_axes
        distance = distance.transpose(1, 2)
        fraction = (along / distance).clamp(-FRAME_MAX_FRACTION, FRAME_MAX_FRACTION)

        def squash(v: torch.Tensor) -> torch.Tensor:
            return torch.tanh(v * (s / 2.0 / FRAME_PIXEL_SCALE)) * FRAME_GAIN

        parts = [squash(along), squash(across), squash(along - distance), squash(along - distance * 0.5)]
        return torch.cat([*parts, fraction * FRAME_GAIN], 2).view(b, (s // p) ** 2, p * p, FRAME_FEATURES * k)

    def loss(
        self, batch: dict[str, Any], foreground_weight: float, changed_weight: float, wrong_weight: float
    ) -> torch.Tensor:
        """The training loss of a batch (`eager_batch`), as the engine's `losses` computes it."""
        text, text_len = batch["text"], batch["text_len"]
        b, t = text.shape
        canvases = batch["canvases"].shape[1]
        patches = self.patchify(batch["image"])
        queries = self.picture_tokens(patches, 0)
        parts: list[torch.Tensor] = []
        canvas_patches: list[torch.Tensor] = []
        for k in range(canvases):
            canvas = batch["canvases"][:, k]
            canvas_patches.append(self.patchify(canvas))
            parts.append(self.picture_tokens(canvas_patches[-1], canvases - k))
            objects = self.object_tokens(canvas)
            parts += [] if objects is None else [objects[0] + self.slot[canvases - k]]
        objects = self.object_tokens(batch["image"])
        places = None if objects is None else objects[1]
        parts += [queries] + ([] if objects is None else [objects[0] + self.slot[0]])
        parts += [F.embedding(text, self.embed) + self.text_pos[:t]]
        x = torch.cat(parts, 1)
        z = self.summary(batch["image"])
        for block in self.blocks:
            x = block(x, causal=True, z=z)
        hidden = self.norm(x)
        # Text: the tied head at the positions that predict the answer's tokens.
        rows = hidden.reshape(-1, hidden.shape[-1]).index_select(0, batch["answer_at"])
        total = F.cross_entropy(rows @ self.embed.T, batch["answer_ids"]) * batch["weight_text"]
        if "target" not in batch or batch["weight_image"] <= 0:
            return total
        # Picture: the decoder's queries attend to the final states, padding left out.
        text_start = hidden.shape[1] - t
        text_real = torch.arange(t).unsqueeze(0) < text_len.unsqueeze(1)
        real = torch.cat([torch.ones(b, text_start, dtype=torch.bool), text_real], 1).view(b, 1, 1, -1)
        x = queries
        if self.decoder_prompt is not None:  # the state at <bos> reaches every query
            bos = (text == BOS).long().argmax(1) + text_start
            x = x + self.decoder_prompt(hidden[torch.arange(b), bos]).unsqueeze(1)
        for block in self.decoder:
            x = block(x, causal=False, memory=hidden, mask=real)
        x = self.decoder_norm(x)
        base = patches
        if self.copy is not None and canvases > 0:  # slot 1 (gate 0) is the last canvas
            gates = self.copy(x)[..., :canvases]
            away = torch.stack(canvas_patches[::-1], 1) - patches.unsqueeze(1)
            base = patches + (gates.transpose(1, 2).unsqueeze(3) * away).sum(1)
        change = self.patch_out(x)
        if self.pixel_head is not None:
            n, pixels = x.shape[1], self.patch**2
            written = self.pixel_head["channels"](x).view(b, n, pixels, -1)
            colour = base.view(b, n, pixels, 3) - 0.5
            if self.pixel_frame_on:
                assert places is not None
                both = self.pixel_head["hidden"](torch.cat([written, colour, self.pixel_frame(places)], 3))
                gate, value = both.chunk(2, 3)
                h = F.silu(gate) * value
            else:
                h = F.gelu(self.pixel_head["hidden"](torch.cat([written, colour], 3)))
            change = change + self.pixel_head["out"](h).view(b, n, pixels * 3)
        picture = self.unpatchify(base + change)
        error = (picture - batch["target"].float() / 255.0).square().sum(-1)
        weights = batch["foreground"].float() * (foreground_weight - 1.0) + 1.0
        weights = torch.maximum(weights, batch["changed"].float() * (changed_weight - 1.0) + 1.0)
        if wrong_weight > 1.0:
            wrong = (error.detach() > 0.25).float()
            weights = torch.maximum(weights, wrong * (wrong_weight - 1.0) + 1.0)
        image = (error * weights).sum() / (weights.sum() * 3.0)
        return total + image * batch["weight_image"]


def eager_batch(
    examples: dict[str, Any], vocab: int, max_text_len: int, patches: int, objects: int
) -> dict[str, Any]:
    """The pre-made batch as the eager model takes it: its pictures as tensors, and random word
    ids laid out as the engine's `encode` lays out its texts (prompt, `<bos>`, answer ending in
    `<eos>`, padding), with the flat positions that predict the answer's tokens."""
    rng = np.random.default_rng(1)
    rows: list[list[int]] = []
    starts: list[int] = []
    for prompt, answer in zip(examples["prompt"], examples["answer"]):
        ids = [int(i) for i in rng.integers(EOS + 1, vocab, len(prompt.split()))] + [BOS]
        starts.append(len(ids))
        ids += [EOS if w == base.EOS else int(rng.integers(EOS + 1, vocab)) for w in answer.split()]
        if ids[-1] != EOS or len(ids) == starts[-1]:
            ids.append(EOS)
        rows.append(ids)
    longest = max(map(len, rows))
    assert longest <= max_text_len, f"{longest} text tokens, the model reads at most {max_text_len}"
    canvases = examples["canvases"].shape[1]
    text_start = (canvases + 1) * (patches + objects)
    length = text_start + longest
    answer_at, answer_ids = [], []
    for row, (ids, start) in enumerate(zip(rows, starts)):
        for j in range(start, len(ids)):
            answer_at.append(row * length + text_start + j - 1)
            answer_ids.append(ids[j])
    batch: dict[str, Any] = {
        "image": torch.from_numpy(examples["image"]),
        "canvases": torch.from_numpy(examples["canvases"]),
        "text": torch.tensor([ids + [PAD] * (longest - len(ids)) for ids in rows]),
        "text_len": torch.tensor([len(ids) for ids in rows]),
        "answer_at": torch.tensor(answer_at),
        "answer_ids": torch.tensor(answer_ids),
        "weight_text": float(examples["weight_text"]),
        "weight_image": float(examples["weight_image"]),
    }
    if "target" in examples:
        batch["target"] = torch.from_numpy(examples["target"])
        batch["foreground"] = torch.from_numpy(examples["foreground"])
        batch["changed"] = torch.from_numpy(examples["changed"])
    return batch


def eager_steps(
    config: Config, examples: dict[str, Any], vocab: int, steps: int
) -> tuple[list[float], list[float], int]:
    """The timed steps' seconds, every step's loss, and the model's parameter count."""
    m, t = config.model, config.training
    assert isinstance(m, AgentConfig)
    torch.manual_seed(int(t.seed))
    net = AgentNet(m, vocab)
    batch = eager_batch(examples, vocab, m.max_text_len, (m.image_size // m.patch_size) ** 2, m.object_tokens)
    params = list(net.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": t.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=t.learning_rate, betas=(t.adam_beta1, t.adam_beta2), eps=t.adam_eps)
    foreground_weight = config.frameworks.foreground_weight if config.frameworks else 1.0
    changed_weight = config.frameworks.changed_weight if config.frameworks else 1.0
    wrong_weight = config.frameworks.wrong_weight if config.frameworks else 1.0
    times: list[float] = []
    losses: list[float] = []
    for _ in range(WARMUP + steps):
        start = time.perf_counter()
        loss = net.loss(batch, foreground_weight, changed_weight, wrong_weight)
        losses.append(loss.item())  # the engine reads each step's loss too (its finite check)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, t.gradient_clip_norm)
        opt.step()
        times.append(time.perf_counter() - start)
    return times[WARMUP:], losses, sum(p.numel() for p in params)


# --- the comparison --------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--framework", default="imagine_without_agent", choices=base.names())
    parser.add_argument(
        "--pixel-summary", type=int, default=None, help="model.pixel_summary (the config's unless given; 0: none)"
    )
    parser.add_argument(
        "--object-tokens", type=int, default=None, help="model.object_tokens (the config's unless given; 0: none)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        config = Config.from_toml(CONFIG).with_overrides(
            [
                f'training.output_dir="{tmp}"',
                "training.epochs=1",
                f"training.steps_per_epoch={WARMUP + args.steps + 1}",
                "training.device=cpu",
                'training.precision="fp32"',
                f"training.threads={args.threads}",
                "dataset.eval_size=1",
                # Validation (after the last step, untimed) then scores this framework alone.
                f"frameworks.weights={{ {args.framework} = 1 }}",
            ]
            + ([] if args.pixel_summary is None else [f"model.pixel_summary={args.pixel_summary}"])
            + ([] if args.object_tokens is None else [f"model.object_tokens={args.object_tokens}"])
        )
        assert isinstance(config.model, AgentConfig)
        size, b = config.model.image_size, config.training.batch_size
        examples = task.to_examples(base.get(args.framework).make(b, np.random.default_rng(0), size))
        ours, our_losses, info = engine_steps(config, examples)
    vocab = int(info["vocab_size"])
    theirs, their_losses, their_params = eager_steps(config, examples, vocab, args.steps)

    if their_params != info["parameters"]:
        raise SystemExit(f"error: the eager model has {their_params:,} parameters, the engine's {info['parameters']:,}")
    for name, losses in [("engine", our_losses), ("eager", their_losses)]:
        if not all(math.isfinite(x) for x in losses):
            raise SystemExit(f"error: the {name} side's losses are not all finite: {losses}")

    capability = torch.backends.cpu.get_cpu_capability()
    threads = torch.get_num_threads()
    texts = [len(p.split()) + 1 + len(a.split()) for p, a in zip(examples["prompt"], examples["answer"])]
    canvases = examples["canvases"].shape[1]
    print(
        f"CPU capability {capability}, {threads} threads, fp32; framework {args.framework}, batch {b} x "
        f"({canvases} canvases + picture, {size} px) + text {min(texts)}..{max(texts)} tokens; "
        f"{info['parameters']:,} parameters, vocabulary {vocab}"
    )
    print(
        f"loss, first -> last step: engine {our_losses[0]:.4f} -> {our_losses[-1]:.4f}, "
        f"eager {their_losses[0]:.4f} -> {their_losses[-1]:.4f}"
    )
    print("| | median s / step | min | max |")
    print("|---|---:|---:|---:|")
    for name, times in [("engine (`_core.train`)", ours), ("PyTorch eager", theirs)]:
        print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |")
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"engine / eager: {ratio:.2f}")
    print(
        json.dumps(
            {
                "cpu_capability": capability,
                "threads": threads,
                "framework": args.framework,
                "steps": args.steps,
                "warmup": WARMUP,
                "engine_median_s": statistics.median(ours),
                "eager_median_s": statistics.median(theirs),
                "engine_over_eager": ratio,
                "engine_losses": our_losses,
                "eager_losses": their_losses,
            }
        )
    )


if __name__ == "__main__":
    main()
