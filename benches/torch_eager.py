"""The engine's model in plain PyTorch eager, timed the way `tat-bench` times the engine.

Reads the file `tat-bench --dump-batch FILE` writes (the resolved [model] and [training]
sections, the token batch, the prompt, the engine's initial weights and the loss they give),
builds the same pre-LN encoder-decoder from torch.nn modules under the engine's parameter names,
loads those weights, checks that it computes the engine's loss, and prints one JSON object with
tat-bench's keys. benches/compare.py runs it; by hand:

    .venv/bin/python benches/torch_eager.py --batch runs/bench/wgsl_small.batch.json --threads 2

Precision: with `precision = "bf16"` the forward runs under torch.autocast(bfloat16), except the
tied output projection, which stays fp32 as in the engine (there it is a plain fp32 matmul with the
embedding, not a precision-aware Linear).
"""

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, d_model, nhead, dropout):
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d_model, d_model) for _ in range(4))
        self.nhead = nhead
        self.dropout = dropout

    def heads(self, x):
        b, l, d = x.shape
        return x.view(b, l, self.nhead, d // self.nhead).transpose(1, 2)

    def keys_values(self, context):
        return self.heads(self.k_proj(context)), self.heads(self.v_proj(context))

    def attend(self, x, kv, mask=None, causal=False):
        b, l, d = x.shape
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(
            self.heads(self.q_proj(x)), *kv, attn_mask=mask, dropout_p=dropout, is_causal=causal
        )
        return self.out_proj(out.transpose(1, 2).reshape(b, l, d))

    def forward(self, x, context, mask=None, causal=False):
        return self.attend(x, self.keys_values(context), mask, causal)

    def step(self, x, cache):
        """Self-attention for one new position; returns the output and the grown cache."""
        k, v = self.keys_values(x)
        if cache is not None:
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        return self.attend(x, (k, v)), (k, v)


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout):
        super().__init__()
        self.up = nn.Linear(d_model, d_ff)
        self.down = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.down(self.drop(F.gelu(self.up(x))))


class EncoderLayer(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m["d_model"]
        self.norm_attn, self.norm_ff = nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = Attention(d, m["nhead"], m["dropout"])
        self.ff = FeedForward(d, m["dim_feedforward"], m["dropout"])
        self.drop = nn.Dropout(m["dropout"])

    def forward(self, x, mask):
        h = self.norm_attn(x)
        x = x + self.drop(self.self_attn(h, h, mask))
        return x + self.drop(self.ff(self.norm_ff(x)))


class DecoderLayer(nn.Module):
    def __init__(self, m):
        super().__init__()
        d = m["d_model"]
        self.norm_self, self.norm_cross, self.norm_ff = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.self_attn = Attention(d, m["nhead"], m["dropout"])
        self.cross_attn = Attention(d, m["nhead"], m["dropout"])
        self.ff = FeedForward(d, m["dim_feedforward"], m["dropout"])
        self.drop = nn.Dropout(m["dropout"])

    def forward(self, x, memory, mask):
        h = self.norm_self(x)
        x = x + self.drop(self.self_attn(h, h, causal=True))
        x = x + self.drop(self.cross_attn(self.norm_cross(x), memory, mask))
        return x + self.drop(self.ff(self.norm_ff(x)))

    def step(self, x, cache, mask):
        attended, cache["own"] = self.self_attn.step(self.norm_self(x), cache["own"])
        x = x + attended
        x = x + self.cross_attn.attend(self.norm_cross(x), cache["memory"], mask)
        return x + self.ff(self.norm_ff(x))


def sinusoidal_positions(max_len, d_model):
    """`[max_len, d_model]`, sine and cosine interleaved per frequency, as the engine lays them out."""
    pos = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    angles = pos * freq.unsqueeze(0)
    return torch.stack([angles.sin(), angles.cos()], 2).reshape(max_len, d_model)


class Stack(nn.Module):
    """`layers` then a final `norm`: the engine's `encoder` and `decoder` parameter paths."""

    def __init__(self, layers, d_model):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(d_model)


class Seq2Seq(nn.Module):
    def __init__(self, m, vocab_size, pad_id):
        super().__init__()
        d = m["d_model"]
        self.d_model, self.pad_id = d, pad_id
        self.embedding = nn.Embedding(vocab_size, d, padding_idx=pad_id)
        self.register_buffer("positions", sinusoidal_positions(m["max_seq_len"], d), persistent=False)
        self.encoder = Stack((EncoderLayer(m) for _ in range(m["num_layers"])), d)
        self.decoder = Stack((DecoderLayer(m) for _ in range(m["num_layers"])), d)
        self.output = None if m["tie_embeddings"] else nn.Linear(d, vocab_size, bias=False)
        self.drop = nn.Dropout(m["dropout"])

    def embed(self, tokens, offset=0):
        x = self.embedding(tokens) * math.sqrt(self.d_model)
        return self.drop(x + self.positions[offset : offset + tokens.shape[1]])

    def encode(self, src):
        mask = (src != self.pad_id)[:, None, None, :]
        x = self.embed(src)
        for layer in self.encoder.layers:
            x = layer(x, mask)
        return self.encoder.norm(x), mask

    def decode(self, memory, mask, tgt_in):
        x = self.embed(tgt_in)
        for layer in self.decoder.layers:
            x = layer(x, memory, mask)
        return self.project(self.decoder.norm(x))

    def start_decoding(self, memory):
        return [{"own": None, "memory": layer.cross_attn.keys_values(memory)} for layer in self.decoder.layers]

    def decode_step(self, mask, caches, tokens, position):
        x = self.embed(tokens, position)
        for layer, cache in zip(self.decoder.layers, caches):
            x = layer.step(x, cache, mask)
        return self.project(self.decoder.norm(x))[:, 0]

    def project(self, h):
        if self.output is not None:
            return self.output(h).float()
        with torch.autocast(h.device.type, enabled=False):
            return h.float() @ self.embedding.weight.t()

    def forward(self, src, tgt_in):
        return self.decode(*self.encode(src), tgt_in)


def sequence_loss(logits, targets, pad_id):
    """Mean cross-entropy over non-pad target tokens."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id)


def check_parameters(model, dump):
    """The comparison means nothing unless both sides hold the same parameters: stop when they do not."""
    count = sum(p.numel() for p in model.parameters())
    print(f"parameters: engine {dump['parameters']:,}, pytorch {count:,}", file=sys.stderr)
    shapes = {name: list(p.shape) for name, p in model.named_parameters()}
    if count != dump["parameters"] or shapes != dump["parameter_shapes"]:
        differ = sorted(set(shapes.items()) ^ set(dump["parameter_shapes"].items()), key=str)[:6]
        sys.exit(f"error: the PyTorch parameters differ from the engine's ({differ}); fix benches/torch_eager.py.")
    return count


def load_safetensors(model, path):
    """Reads the engine's fp32 weights (safetensors: 8-byte header size, JSON header, raw data)
    straight into the CPU model's parameters, so no second copy inflates the peak memory."""
    params = dict(model.named_parameters())
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        header.pop("__metadata__", None)
        if header.keys() != params.keys():
            sys.exit(f"error: {path} holds other tensors than the model's parameters")
        for name, info in header.items():
            if info["dtype"] != "F32":
                sys.exit(f"error: {path}: tensor {name} is {info['dtype']}, expected F32")
            start, end = info["data_offsets"]
            f.seek(8 + size + start)
            if f.readinto(memoryview(params[name].detach().numpy()).cast("B")) != end - start:
                sys.exit(f"error: {path}: tensor {name} does not fit the model's {list(params[name].shape)}")


def check_same_function(model, batch, dump, autocast, bf16):
    """With the engine's weights, the batch's loss without dropout must be the engine's."""
    src, tgt_in, tgt_out = batch
    model.eval()
    with torch.no_grad(), autocast():
        logits = model(src, tgt_in)
    loss = sequence_loss(logits, tgt_out, model.pad_id).item()
    # The same ops in the same kinds on both sides; bf16 kernels may still sum in another order.
    tolerance = 1e-3 if bf16 else 1e-4
    print(f"loss with the engine's weights: engine {dump['eval_loss']:.6f}, pytorch {loss:.6f}", file=sys.stderr)
    if abs(loss - dump["eval_loss"]) > tolerance * abs(dump["eval_loss"]):
        sys.exit("error: with the engine's weights the PyTorch model computes another loss; fix torch_eager.py.")


def optimizer(model, t):
    """AdamW as the engine applies it: decoupled weight decay on matrices only. On a GPU, PyTorch's
    fused kernel (one launch for every parameter, as the engine's); on the CPU, its default."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": t["weight_decay"]},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = True if params[0].device.type == "cuda" else None
    return torch.optim.AdamW(
        groups, lr=t["learning_rate"], betas=(t["adam_beta1"], t["adam_beta2"]), eps=t["adam_eps"], fused=fused
    )


def step_flops(model, batch, autocast):
    """The floating-point operations of one training step's forward and backward (matrix products and
    attention, as torch's FlopCounterMode counts them); the weights do not change."""
    from torch.utils.flop_counter import FlopCounterMode

    src, tgt_in, tgt_out = batch
    model.train()
    with FlopCounterMode(display=False) as counter:
        with autocast():
            logits = model(src, tgt_in)
        sequence_loss(logits, tgt_out, model.pad_id).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(model, batch, t, autocast, warmup, steps, forward=None):
    """Seconds for `steps` timed steps (after `warmup`) and every step's loss; `forward` (e.g. the
    torch.compile of `model`) computes the logits where given."""
    src, tgt_in, tgt_out = batch
    opt = optimizer(model, t)
    model.train()
    forward = model if forward is None else forward

    def step():
        with autocast():
            logits = forward(src, tgt_in)
        loss = sequence_loss(logits, tgt_out, model.pad_id)
        opt.zero_grad()
        loss.backward()
        if t["gradient_clip_norm"] > 0:
            nn.utils.clip_grad_norm_(model.parameters(), t["gradient_clip_norm"])
        opt.step()
        return loss.item()

    losses = [step() for _ in range(warmup)]
    synchronize(src.device)
    started = time.perf_counter()
    losses += [step() for _ in range(steps)]
    synchronize(src.device)
    return time.perf_counter() - started, losses


@torch.no_grad()
def greedy(model, prompt, new_tokens, bos_id, cached):
    """Exactly `new_tokens` greedy tokens for each row of `prompt`, `<eos>` or not."""
    memory, mask = model.encode(prompt)
    caches = model.start_decoding(memory) if cached else None
    tokens = torch.full((prompt.shape[0], 1), bos_id, dtype=torch.long, device=prompt.device)
    for position in range(new_tokens):
        if cached:
            logits = model.decode_step(mask, caches, tokens[:, -1:], position)
        else:
            logits = model.decode(memory, mask, tokens)[:, -1]
        tokens = torch.cat([tokens, logits.argmax(-1, keepdim=True)], 1)
    return tokens.view(-1).tolist()


def time_generation(model, prompt, dump, autocast, warmup, runs):
    model.eval()

    def run(cached):
        with autocast():
            return greedy(model, prompt, dump["new_tokens"], dump["bos_id"], cached)

    def median_ms(cached):
        for _ in range(warmup):
            run(cached)
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            run(cached)
            samples.append((time.perf_counter() - started) * 1e3)
        return statistics.median(samples)

    return median_ms(True), median_ms(False), run(True) == run(False)


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", required=True, help="the file written by `tat-bench --dump-batch`")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps and generation runs first")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0 keeps torch's default")
    parser.add_argument("--gen-runs", type=int, default=3, help="timed generation runs per decoding (median)")
    parser.add_argument("--compile", action="store_true", help="train through torch.compile(model) (warmup compiles)")
    parser.add_argument("--train-only", action="store_true", help="time training only, not generation")
    args = parser.parse_args()
    if args.steps < 1 or args.gen_runs < 1:
        parser.error("--steps and --gen-runs must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")

    with open(args.batch) as f:
        dump = json.load(f)
    m, t = dump["model"], dump["training"]
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bf16 = t["precision"] == "bf16"

    def autocast():
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)

    torch.manual_seed(t["seed"])
    model = Seq2Seq(m, dump["vocab_size"], dump["pad_id"])
    parameters = check_parameters(model, dump)
    load_safetensors(model, Path(args.batch).parent / dump["weights"])
    model.to(device)
    batch = tuple(torch.tensor(dump[k], dtype=torch.long, device=device) for k in ("src", "tgt_in", "tgt_out"))
    check_same_function(model, batch, dump, autocast, bf16)
    src, tgt_in, tgt_out = batch
    tokens = int((src != dump["pad_id"]).sum() + (tgt_out != dump["pad_id"]).sum())
    prompt = torch.tensor([dump["prompt"]], dtype=torch.long, device=device)

    flops = step_flops(model, batch, autocast)
    forward = torch.compile(model) if args.compile else None
    seconds, losses = time_training(model, batch, t, autocast, max(args.warmup, 1 if args.compile else 0), args.steps, forward)
    rows = src.shape[0]
    new_tokens = dump["new_tokens"]
    report = {
        "impl": "pytorch-compile" if args.compile else "pytorch",
        "config": dump["config"],
        "device": f"cpu ({torch.get_num_threads()} threads)" if device.type == "cpu" else str(device),
        "threads": torch.get_num_threads(),
        "precision": t["precision"],
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "parameters": parameters,
        "batch": {"examples": src.shape[0], "src_len": src.shape[1], "tgt_len": tgt_in.shape[1], "tokens": tokens},
        "train": {
            "steps": args.steps,
            "warmup": args.warmup,
            "seconds": seconds,
            "examples_per_s": args.steps * src.shape[0] / seconds,
            "tokens_per_s": args.steps * tokens / seconds,
            "first_loss": losses[0],
            "last_loss": losses[-1],
            "flops_per_step": flops,
        },
        "peak_rss_mib": None,
    }
    if args.train_only:
        report["peak_rss_mib"] = peak_rss_mib()
        print(json.dumps(report))
        return
    cached_ms, uncached_ms, same_tokens = time_generation(model, prompt, dump, autocast, args.warmup, args.gen_runs)
    batched = time_generation(model, prompt.repeat(rows, 1), dump, autocast, args.warmup, args.gen_runs)
    report |= {
        "generate": {
            "new_tokens": new_tokens,
            "prompt_tokens": prompt.shape[1],
            "runs": args.gen_runs,
            "cached_ms": cached_ms,
            "uncached_ms": uncached_ms,
            "cached_tokens_per_s": new_tokens * 1e3 / cached_ms,
            "uncached_tokens_per_s": new_tokens * 1e3 / uncached_ms,
            "cache_speedup": uncached_ms / cached_ms,
            "same_tokens": same_tokens,
        },
        "generate_batch": {
            "rows": rows,
            "cached_ms": batched[0],
            "uncached_ms": batched[1],
            "cached_tokens_per_s": rows * new_tokens * 1e3 / batched[0],
            "cache_speedup": batched[1] / batched[0],
            "same_tokens": batched[2],
        },
        "peak_rss_mib": peak_rss_mib(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
