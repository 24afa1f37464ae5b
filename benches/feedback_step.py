"""One training step of the feedback hypernetworks: the engine against the same computation in
PyTorch eager (same shapes, threads, precision), for BENCHMARKS.md.

The shapes are those of `config/feedback_wikitext_to_gsm8k.toml`: a frozen masked-diffusion
model (4 layers, width 128, 4 heads, feed-forward 512, vocabulary 50,304) and standard feedback
hypernetworks of rank 4 with the stable recipe, batches of 32 pieces of exactly 128 tokens.

- The engine: `tat.train` on a made-up gsm8k-format corpus whose every problem encodes to exactly
  128 tokens (one piece each), first a one-epoch base model, then the feedback run from it. A step
  is the time between two `on_step` calls: the learner's whole step (batch, masking, both
  networks forward and backward, clipping, AdamW).
- PyTorch eager: the same networks written with torch modules, random token ids of the same
  shape, the same masking and loss, `clip_grad_norm_` and `torch.optim.AdamW` over the
  hypernetworks' parameters.

Both run in this process, one after the other, with the same number of libtorch threads (the
extension and torch share one libtorch), fp32. The engine runs first, so both run with the C
allocator set as the engine sets it for training (freed memory kept for reuse, README "Training
behaviour"): the comparison is of the computation alone. The median over the timed steps is
reported.

Usage::

    .venv/bin/python benches/feedback_step.py [--steps 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import tiny_agent_trainer as tat

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
B, T, D, H, FF, L, R, V = 32, 128, 128, 4, 512, 4, 4, 50_304
EPS = 1e-3


# --- PyTorch eager ---------------------------------------------------------------------------
def norm(x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, (x.shape[-1],))


def rotary(t: int, head: int) -> tuple[torch.Tensor, torch.Tensor]:
    inv = 1.0 / (10_000 ** (torch.arange(0, head, 2, dtype=torch.float32) / head))
    freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)
    angles = torch.cat([freqs, freqs], -1)
    return angles.cos(), angles.sin()


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], -1) * sin


class Block(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = (torch.nn.Linear(D, D, bias=False) for _ in range(4))
        self.up, self.down = torch.nn.Linear(D, FF, bias=False), torch.nn.Linear(FF, D, bias=False)

    def forward(self, x: torch.Tensor, keys: torch.Tensor, deltas=None) -> torch.Tensor:
        b, t, d = x.shape
        cos, sin = rotary(t, d // H)
        h = norm(x)

        def project(layer, which, inp):
            y = layer(inp)
            if deltas is not None:
                a, bb, scale = deltas
                y = y + (inp @ a[:, which].transpose(1, 2)) @ bb[:, which] * scale
            return y

        split = lambda y: y.view(b, t, H, d // H).transpose(1, 2)  # noqa: E731
        q = rotate(split(project(self.q, 0, h)), cos, sin)
        k = rotate(split(project(self.k, 1, h)), cos, sin)
        v = split(project(self.v, 2, h))
        mask = keys.view(b, 1, 1, t)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        merged = att.transpose(1, 2).reshape(b, t, d)
        x = x + project(self.o, 3, merged)
        return x + self.down(F.gelu(self.up(norm(x))))


class Base(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Parameter(torch.randn(V, D) * 0.02)
        self.blocks = torch.nn.ModuleList(Block() for _ in range(L))

    def hidden(self, ids, keys, deltas):
        x = F.embedding(ids, self.embedding)
        for i, block in enumerate(self.blocks):
            x = block(x, keys, deltas[i])
        return norm(x)


class Hyper(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Parameter(torch.randn(V, D) * 0.02)
        self.read = torch.nn.ModuleList(Block() for _ in range(L))
        self.write = torch.nn.ModuleList(Block() for _ in range(L))
        self.tokens = torch.nn.Parameter(torch.randn(L, 8 * R, D) * 0.02)
        self.gates = torch.nn.Parameter(torch.zeros(L))

    def deltas(self, ids, keys):
        b, t = ids.shape
        x = F.embedding(ids, self.embedding)
        wide = torch.cat([keys, torch.ones(b, 8 * R, dtype=torch.bool)], 1)
        out = []
        for i in range(L):
            x = self.read[i](x, keys)
            context = torch.cat([x, self.tokens[i].expand(b, -1, -1)], 1)
            readout = norm(self.write[i](context, wide)[:, t:])
            pairs = readout.view(b, 4, 2, R, D)
            out.append((pairs[:, :, 0], pairs[:, :, 1], self.gates[i] * (1.0 / R)))
        return out


def eager_steps(steps: int) -> list[float]:
    torch.manual_seed(0)
    base, hyper = Base(), Hyper()
    for p in base.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        hyper.gates.fill_(0.1)  # past the start, so every hypernetwork weight gets a gradient
    opt = torch.optim.AdamW(hyper.parameters(), lr=1e-3, weight_decay=0.1, eps=1e-8, betas=(0.9, 0.99))
    ids = torch.randint(0, 50_257, (B, T))
    keys = torch.ones(B, T, dtype=torch.bool)
    times = []
    for _ in range(steps + 3):
        start = time.perf_counter()
        t = (torch.randperm(B).float() + torch.rand(B)) / B
        p = ((1 - EPS) * t + EPS).unsqueeze(1)
        masked = torch.rand(B, T) < p
        noisy = torch.where(masked, 50_257, ids)
        deltas = hyper.deltas(noisy, keys)
        h = base.hidden(noisy, keys, deltas)
        rows = h[masked]
        ce = F.cross_entropy(rows @ base.embedding.T, ids[masked], reduction="none")
        loss = (ce / p.expand(B, T)[masked]).sum() / keys.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(hyper.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - start)
    return times[3:]


# --- the engine ------------------------------------------------------------------------------
def corpus(folder: Path, problems: int) -> None:
    """gsm8k-format files whose every problem is exactly 128 GPT-2 tokens with its EOS:
    "Question" ":" + 121 x " a" + "\\n" "Answer" ":" " b" + EOS."""
    folder.mkdir(parents=True)
    line = '{"question": "' + "a " * 120 + 'a", "answer": "b"}'
    for name in ("train.jsonl", "test.jsonl"):
        (folder / name).write_text("\n".join([line] * problems) + "\n", encoding="utf-8")


def engine_steps(steps: int, root: Path) -> tuple[list[float], float]:
    data = root / "data"
    corpus(data, B * (steps + 3))
    sets = [
        f'dataset.path="{data}"',
        f'tokenizer.path="{SHARED / "gpt2"}"',
        "training.epochs=1",
        "training.device=cpu",
        'training.precision="fp32"',
        "model.dropout=0.0",
    ]
    base = tat.Config.from_toml(ROOT / "config" / "diffusion_gsm8k.toml").with_overrides(sets)
    base_run = tat.train(base.with_overrides([f'dataset.path="{data}"']), out=root / "base").run_dir
    fb = tat.Config.from_toml(ROOT / "config" / "feedback_wikitext_to_gsm8k.toml").with_overrides(
        [*sets, f'training.init_from="{base_run / "last"}"']
    )
    stamps: list[float] = []
    tat.train(fb, out=root / "fb", on_step=lambda _: stamps.append(time.perf_counter()))
    metrics = (root / "fb" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    m = json.loads(metrics[0])
    tokens_per_example = m["tokens_per_sec"] / m["examples_per_sec"]
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    return gaps[3:], tokens_per_example


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        ours, per_example = engine_steps(args.steps, Path(tmp))
    theirs = eager_steps(args.steps)
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"CPU capability {capability}, {torch.get_num_threads()} threads, fp32, batch {B} x {T} tokens")
    print(f"engine pieces: {per_example:.1f} tokens each (expected {T})")
    print("| | median s / step | min | max |")
    print("|---|---:|---:|---:|")
    for name, times in [("engine (`tat.train`)", ours), ("PyTorch eager", theirs)]:
        print(f"| {name} | {statistics.median(times):.3f} | {min(times):.3f} | {max(times):.3f} |")
    print(f"engine / eager: {statistics.median(ours) / statistics.median(theirs):.2f}")


if __name__ == "__main__":
    main()
