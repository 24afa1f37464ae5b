"""Reference timings and accuracies of the ORIGINAL JAX library darnax, for BENCHMARKS.md.

This is a benchmark reference, not a test: it trains darnax's own network objects
(``LayerMap``, ``FullyConnected``, ``RecurrentDiscrete``, ``FrozenFullyConnected``,
``OutputLayer``, ``SequentialState``, ``SequentialOrchestrator``) with optax, driven the way
darnax's tutorials drive them, and reports wall-clock seconds per epoch and accuracy, so that
the engine's numbers on the same workloads can be put next to them. Nothing here is
re-implemented: the dynamics (``step``/``step_inference``/``predict``) and the local learning
rule (``backward``) are darnax's code, imported from a darnax source tree.

darnax source: https://github.com/Willinki/darnax at commit d42e00e (package version 0.4.0).
Get it with ``git -C <mirror> archive d42e00e | tar -x -C <dir>``; ``--darnax-src`` is the
repository root (the folder that holds ``src/darnax``) or the folder holding ``darnax/``.

Environment (CPU; the versions pinned by darnax's ``uv.lock``)::

    python3.11 -m venv venv
    venv/bin/pip install "jax[cpu]==0.4.38" equinox==0.12.2 optax==0.2.5 numpy==2.3.4

darnax's own ``datasets``/``pillow`` dependencies are not needed (nothing here imports
``darnax.datasets``; Fashion-MNIST is read from the original IDX ``.gz`` files).

Usage::

    venv/bin/python benches/darnax_reference.py --darnax-src DARNAX_ROOT prototypes
    venv/bin/python benches/darnax_reference.py --darnax-src DARNAX_ROOT fashion \
        [--epochs 5] [--data /work/shared/data/fashion-mnist] [--json out.json]

Workloads
---------
``prototypes``
    Tutorial 06 (``docs/tutorials/06_simple_net_on_artificial_data.py``): binary-prototype
    data (K=10, D=100, N=1000, 30 % bit flips, data key split(key(59))[1]), network
    100-256-10 (model key 44), Adam 5e-3, batch 16 (63 batches), 10 clamped ("all") + 10
    free ("forward") steps per batch, **eager** (no jit, Python loops over
    ``orch.step``), 3 epochs. Each batch is followed by the tutorial's monitoring
    ``eval_step`` (default t_eval=5) on the same batch; the epoch time the tutorial prints
    covers both. Per-epoch accuracy is the tutorial's "Mean accuracy" (running mean over epochs
    of the last batch's monitoring accuracy); the final accuracy is the tutorial's: mean of the
    63 batch accuracies on the same 1,000 samples with 10 forward steps.

``fashion``
    Tutorial 07 (``docs/tutorials/07_optimized_training_on_mnist.py``) on Fashion-MNIST:
    5,400 images per class (54,000), Gaussian projection 784 -> 100 then sign (0 -> -1),
    c-rescale labels (1.0811 / -0.5), network 100-300-10, Adam 2e-3, batch 16 (3,375 train
    batches), ``eqx.filter_jit`` train/eval steps with ``lax.scan`` dynamics (10 + 10
    training steps, 2*10 forward steps in eval), evaluation on all 10,000 test images (625
    batches) after every epoch, 5 epochs. The tutorial loads MNIST from the Hugging Face hub;
    here the four IDX files are parsed with numpy+gzip and the rest of the tutorial's data
    path (per-class sampling, projection, sign, label scaling, shuffle; all keys) is kept.

Timing: ``time.perf_counter`` around the loops, with ``jax.block_until_ready`` at the end of a
phase (and, in ``prototypes``, after each ``train_step`` so the train/monitoring split is
honest; the tutorial already syncs after each monitoring step through ``float``). The first
epoch includes compilation (XLA JIT in ``fashion``; per-primitive compilation of the eager ops
in ``prototypes``); the first call of each step is also timed on its own.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import struct
import sys
import time
from pathlib import Path

DARNAX_COMMIT = "d42e00e"


def _parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("workload", choices=["prototypes", "fashion"])
    p.add_argument(
        "--darnax-src",
        required=True,
        help="darnax repository root (holding src/darnax) or the folder holding darnax/",
    )
    p.add_argument("--epochs", type=int, default=None, help="default: 3 (prototypes), 5 (fashion)")
    p.add_argument(
        "--data",
        default="/work/shared/data/fashion-mnist",
        help="folder with the Fashion-MNIST IDX files (train-images-idx3-ubyte.gz, ...)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="fashion: 0 keeps the tutorial's keys (data 59, model 44); N adds N to both",
    )
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    return p.parse_args()


ARGS = _parse_args()

# --- make the original darnax importable -------------------------------------------------
_src = Path(ARGS.darnax_src).resolve()
if (_src / "src" / "darnax" / "__init__.py").exists():
    _src = _src / "src"
if not (_src / "darnax" / "__init__.py").exists():
    sys.exit(f"no darnax package under {ARGS.darnax_src} (expected src/darnax or darnax/)")
sys.path.insert(0, str(_src))

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

import darnax  # noqa: E402
from darnax.layer_maps.sparse import LayerMap  # noqa: E402
from darnax.modules.fully_connected import FrozenFullyConnected, FullyConnected  # noqa: E402
from darnax.modules.input_output import OutputLayer  # noqa: E402
from darnax.modules.recurrent import RecurrentDiscrete  # noqa: E402
from darnax.orchestrators.sequential import SequentialOrchestrator  # noqa: E402
from darnax.states.sequential import SequentialState  # noqa: E402


# =========================================================================================
# Shared: the tutorials' one-hidden-layer network and optax update
# =========================================================================================
def build_network(
    *,
    dim_in: int,
    dim_hidden: int,
    n_classes: int,
    thr_in: float,
    thr_j: float,
    thr_out: float,
    strength_forth: float,
    strength_back: float,
    j_d: float,
    seed: int = 44,
) -> tuple[SequentialState, SequentialOrchestrator]:
    """Rows 0 (input, never updated), 1 (hidden), 2 (output); module keys split(key(44), 5)."""
    k = jax.random.split(jax.random.key(seed), num=5)
    hidden_row = {
        0: FullyConnected(
            in_features=dim_in,
            out_features=dim_hidden,
            strength=strength_forth,
            threshold=thr_in,
            key=k[0],
        ),
        1: RecurrentDiscrete(features=dim_hidden, j_d=j_d, threshold=thr_j, key=k[1]),
        2: FrozenFullyConnected(
            in_features=n_classes,
            out_features=dim_hidden,
            strength=strength_back,
            threshold=0.0,
            key=k[2],
        ),
    }
    output_row = {
        1: FullyConnected(
            in_features=dim_hidden,
            out_features=n_classes,
            strength=1.0,
            threshold=thr_out,
            key=k[3],
        ),
        2: OutputLayer(),
    }
    lmap = LayerMap.from_dict({1: hidden_row, 2: output_row})
    return SequentialState((dim_in, dim_hidden, n_classes)), SequentialOrchestrator(layers=lmap)


def local_update(orch, s, optimizer, opt_state, rng):
    """darnax's local pseudo-gradients (orch.backward) fed through optax, as in 06/07."""
    grads = eqx.filter(orch.backward(s, rng=rng), eqx.is_inexact_array)
    params = eqx.filter(orch, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, opt_state, params=params)
    return eqx.apply_updates(orch, updates), opt_state


def argmax_accuracy(y_true, y_pred):
    return jnp.mean((jnp.argmax(y_true, axis=-1) == jnp.argmax(y_pred, axis=-1)).astype(jnp.float32))


# =========================================================================================
# Workload 1: tutorial 06, eager
# =========================================================================================
class Prototypes:
    """Tutorial 06's PrototypeData: same keys, same ops, same (unshuffled) batch order."""

    def __init__(self, key, batch_size=16, k=10, dim=100, n=1000, p_noise=0.3):
        self.num_batches = -(-n // batch_size)
        key_proto, key_data = jax.random.split(key)
        self.prototypes = jax.random.rademacher(key_proto, shape=(k, dim), dtype=jnp.float32)
        reps = n // k + 1
        labels = jnp.full((k, k), -1.0, dtype=jnp.float32)
        labels = labels.at[jnp.diag_indices_from(labels)].set(1.0)
        y = jnp.repeat(labels, reps, axis=0, total_repeat_length=n)
        key, flip_key = jax.random.split(key_data)
        x = jnp.repeat(self.prototypes, reps, axis=0, total_repeat_length=n)
        x = x * (jax.random.bernoulli(flip_key, p=1 - p_noise, shape=x.shape) * 2.0 - 1.0)
        order = jax.random.permutation(key, n)
        self.x = x[order].astype(jnp.float32)
        self.y = y[order].astype(jnp.float32)

    def __iter__(self):
        return zip(
            jnp.array_split(self.x, self.num_batches),
            jnp.array_split(self.y, self.num_batches),
            strict=True,
        )


def run_prototypes(epochs: int) -> list[dict]:
    t_train, t_eval_final, t_eval_monitor = 10, 10, 5  # monitor: tutorial's default t_eval
    state, orch = build_network(
        dim_in=100, dim_hidden=256, n_classes=10, thr_in=3.5, thr_j=0.5, thr_out=3.5,
        strength_forth=1.0, strength_back=0.3, j_d=0.5,
    )  # fmt: skip
    optimizer = optax.adam(5e-3)
    opt_state = optimizer.init(eqx.filter(orch, eqx.is_inexact_array))

    def train_step(orch, s, x, y, rng, opt_state):
        s = s.init(x, y)
        for _ in range(t_train):  # clamped phase: all messages
            s, rng = orch.step(s, rng=rng)
        for _ in range(t_train):  # free phase: forward messages only
            s, rng = orch.step_inference(s, rng=rng)
        rng, update_key = jax.random.split(rng)
        orch, opt_state = local_update(orch, s, optimizer, opt_state, update_key)
        return orch, rng, opt_state

    def eval_step(orch, s, x, y, rng, t_eval):
        s = s.init(x, None)
        for _ in range(t_eval):
            s, rng = orch.step_inference(s, rng=rng)
        s, rng = orch.predict(s, rng)
        return float(argmax_accuracy(y, s[-1])), rng

    master_key = jax.random.key(59)
    master_key, data_key = jax.random.split(master_key)
    t = time.perf_counter()
    data = Prototypes(data_key)
    jax.block_until_ready(data.x)
    print(f"[prototypes] data x{tuple(data.x.shape)} built in {time.perf_counter() - t:.2f}s")

    rows, last_batch_accs = [], []
    for epoch in range(1, epochs + 1):
        t_tr = t_ev = 0.0
        first = {}
        t_epoch = time.perf_counter()
        for x_b, y_b in data:
            master_key, train_key, eval_key = jax.random.split(master_key, num=3)
            t0 = time.perf_counter()
            orch, master_key, opt_state = train_step(orch, state, x_b, y_b, train_key, opt_state)
            jax.block_until_ready(orch)
            t1 = time.perf_counter()
            acc, _ = eval_step(orch, state, x_b, y_b, eval_key, t_eval_monitor)
            t2 = time.perf_counter()
            t_tr += t1 - t0
            t_ev += t2 - t1
            if epoch == 1 and not first:
                first = {"first_train_call_s": t1 - t0, "first_eval_call_s": t2 - t1}
        epoch_s = time.perf_counter() - t_epoch
        last_batch_accs.append(acc)
        mean_acc = float(jnp.mean(jnp.array(last_batch_accs)))
        rows.append({
            "workload": "prototypes", "epoch": epoch, "epoch_s": epoch_s, "train_s": t_tr,
            "eval_s": t_ev, "accuracy": mean_acc, "includes_compile": epoch == 1, **first,
        })  # fmt: skip
        print(
            f"[prototypes] epoch {epoch}/{epochs}: {epoch_s:.2f}s (train_step {t_tr:.2f}s, "
            f"monitoring eval_step {t_ev:.2f}s)  tutorial 'Mean accuracy'={mean_acc:.3f}",
            flush=True,
        )

    t0 = time.perf_counter()
    accs = []
    for x_b, y_b in data:
        master_key, step_key = jax.random.split(master_key)
        acc, master_key = eval_step(orch, state, x_b, y_b, step_key, t_eval_final)
        accs.append(acc)
    final_s = time.perf_counter() - t0
    final_acc = float(jnp.mean(jnp.array(accs)))
    rows.append({
        "workload": "prototypes", "epoch": "final", "epoch_s": final_s, "train_s": None,
        "eval_s": final_s, "accuracy": final_acc, "includes_compile": False,
    })  # fmt: skip
    print(f"[prototypes] final evaluation (63 batches, 10 steps): {final_s:.2f}s  "
          f"Accuracy={final_acc:.4f}")  # fmt: skip
    return rows


# =========================================================================================
# Workload 2: tutorial 07 on Fashion-MNIST, jitted
# =========================================================================================
def read_idx_gz(path: Path) -> np.ndarray:
    """MNIST-format IDX file (gzip) -> numpy uint8 array of the stated shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for shape {dims}")
    return data.reshape(dims)


class FashionIDX:
    """Tutorial 07's MNISTData with the split loader reading IDX files instead of the HF hub.

    Everything after loading (keys, per-class sampling, shared projection, sign 0 -> -1,
    c-rescale labels, one train shuffle, contiguous slices) follows the tutorial's class.
    """

    NUM_CLASSES = 10
    FILES = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }

    def __init__(self, key, folder: Path, batch_size=16, projection=100, per_class=5400):
        self.folder = folder
        self.batch_size = batch_size
        key_sample, key_proj, key_shuf = jax.random.split(key, 3)
        x_tr_all, y_tr_all = self._load_split("train")
        x_te_all, y_te_all = self._load_split("test")
        x_tr, y_tr = self._take_per_class(key_sample, x_tr_all, y_tr_all, per_class)
        w = jax.random.normal(key_proj, (projection, x_tr.shape[-1]), dtype=jnp.float32)
        w = w / jnp.sqrt(x_tr.shape[-1])
        x_tr = self._project_sign(w, x_tr)
        x_te = self._project_sign(w, x_te_all)
        y_tr = self._c_rescale(y_tr)
        perm = jax.random.permutation(key_shuf, x_tr.shape[0])
        self.x, self.y = x_tr[perm], y_tr[perm]
        self.x_eval, self.y_eval = x_te, self._c_rescale(y_te_all)

    def _load_split(self, split):
        img_file, lbl_file = self.FILES[split]
        imgs = read_idx_gz(self.folder / img_file)
        labels = read_idx_gz(self.folder / lbl_file)
        x = jnp.asarray(imgs, dtype=jnp.float32)
        x = x.reshape(x.shape[0], -1) / 255.0
        return x, jnp.asarray(labels, dtype=jnp.int32)

    @classmethod
    def _take_per_class(cls, key, x, y, k):
        xs, ys = [], []
        for c in range(cls.NUM_CLASSES):
            key, sub = jax.random.split(key)
            idx = jnp.where(y == c)[0]
            if k > idx.shape[0]:
                raise ValueError(f"class {c}: {idx.shape[0]} images, {k} requested")
            take = idx[jax.random.permutation(sub, idx.shape[0])[:k]]
            xs.append(x[take])
            ys.append(y[take])
        return jnp.concatenate(xs, axis=0), jnp.concatenate(ys, axis=0)

    @staticmethod
    def _project_sign(w, x):
        x = (x @ w.T).astype(jnp.float32)
        sgn = jnp.sign(x)
        return jnp.where(sgn == 0, jnp.array(-1.0, dtype=sgn.dtype), sgn)

    @classmethod
    def _c_rescale(cls, y):
        one_hot = jax.nn.one_hot(y, cls.NUM_CLASSES, dtype=jnp.float32)
        return one_hot * (cls.NUM_CLASSES**0.5 / 2.0) - 0.5

    def _slices(self, x, y):
        n = x.shape[0]
        for lo in range(0, n, self.batch_size):
            yield x[lo : lo + self.batch_size], y[lo : lo + self.batch_size]

    def __iter__(self):
        return self._slices(self.x, self.y)

    def iter_eval(self):
        return self._slices(self.x_eval, self.y_eval)


def _scan(fn, s, rng, steps):
    def body(carry, _):
        s, rng = carry
        s, rng = fn(s, rng=rng)
        return (s, rng), None

    (s, rng), _ = jax.lax.scan(body, (s, rng), xs=None, length=steps)
    return s, rng


@eqx.filter_jit
def fashion_train_step(orch, s, x, y, rng, *, opt_state, optimizer, t_train):
    s = s.init(x, y)
    s, rng = _scan(orch.step, s, rng, t_train)  # clamped
    s, rng = _scan(orch.step_inference, s, rng, t_train)  # free
    rng, update_key = jax.random.split(rng)
    orch, opt_state = local_update(orch, s, optimizer, opt_state, update_key)
    return orch, rng, opt_state


@eqx.filter_jit
def fashion_eval_step(orch, s, x, y, rng, *, t_eval):
    s = s.init(x, None)
    s, rng = _scan(orch.step_inference, s, rng, 2 * t_eval)
    s, rng = orch.predict(s, rng)
    return argmax_accuracy(y, s[-1]), rng


def run_fashion(epochs: int, folder: Path) -> list[dict]:
    t_train = t_eval = 10
    master_key = jax.random.key(59 + ARGS.seed)
    master_key, data_key = jax.random.split(master_key)
    t = time.perf_counter()
    data = FashionIDX(data_key, folder)
    jax.block_until_ready((data.x, data.x_eval))
    print(f"[fashion] data: train x{tuple(data.x.shape)}, test x{tuple(data.x_eval.shape)}, "
          f"built in {time.perf_counter() - t:.2f}s", flush=True)  # fmt: skip

    state, orch = build_network(
        dim_in=100, dim_hidden=300, n_classes=10, thr_in=1.0, thr_j=1.0, thr_out=1.0,
        strength_forth=5.0, strength_back=0.5, j_d=0.5, seed=44 + ARGS.seed,
    )  # fmt: skip
    optimizer = optax.adam(2e-3)
    opt_state = optimizer.init(eqx.filter(orch, eqx.is_inexact_array))

    rows = []
    for epoch in range(1, epochs + 1):
        first = {}
        t0 = time.perf_counter()
        for i, (x_b, y_b) in enumerate(data):
            master_key, step_key = jax.random.split(master_key)
            orch, master_key, opt_state = fashion_train_step(
                orch, state, x_b, y_b, step_key,
                opt_state=opt_state, optimizer=optimizer, t_train=t_train,
            )  # fmt: skip
            if epoch == 1 and i == 0:
                jax.block_until_ready(orch)
                first["first_train_call_s"] = time.perf_counter() - t0
        jax.block_until_ready((orch, opt_state))
        train_s = time.perf_counter() - t0

        t1 = time.perf_counter()
        accs = []
        for i, (x_b, y_b) in enumerate(data.iter_eval()):
            master_key, step_key = jax.random.split(master_key)
            acc, master_key = fashion_eval_step(
                orch, state, x_b.astype(jnp.float32), y_b.astype(jnp.float32), step_key,
                t_eval=t_eval,
            )  # fmt: skip
            if epoch == 1 and i == 0:
                jax.block_until_ready(acc)
                first["first_eval_call_s"] = time.perf_counter() - t1
            accs.append(acc)
        acc_epoch = float(jnp.mean(jnp.array(accs)))
        eval_s = time.perf_counter() - t1
        rows.append({
            "workload": "fashion", "epoch": epoch, "epoch_s": train_s + eval_s,
            "train_s": train_s, "eval_s": eval_s, "accuracy": acc_epoch,
            "includes_compile": epoch == 1, **first,
        })  # fmt: skip
        print(f"[fashion] epoch {epoch}/{epochs}: train {train_s:.2f}s, eval {eval_s:.2f}s, "
              f"test accuracy {acc_epoch:.4f}", flush=True)  # fmt: skip
    return rows


# =========================================================================================
def _fmt(v, nd=2):
    return "" if v is None else f"{v:.{nd}f}"


def print_table(rows: list[dict]) -> None:
    print()
    print("| workload | epoch | train s | eval s | epoch s | accuracy |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        ep = f"{r['epoch']} (incl. compile)" if r["includes_compile"] else str(r["epoch"])
        print(f"| {r['workload']} | {ep} | {_fmt(r['train_s'])} | {_fmt(r['eval_s'])} | "
              f"{_fmt(r['epoch_s'])} | {_fmt(r['accuracy'], 4)} |")  # fmt: skip
    for r in rows:
        if "first_train_call_s" in r:
            print(f"\n{r['workload']}: first train_step call {r['first_train_call_s']:.2f}s, "
                  f"first eval_step call {r['first_eval_call_s']:.2f}s "
                  "(compilation + one step; included in epoch 1)")  # fmt: skip
    if rows and rows[0]["workload"] == "prototypes":
        print("\nprototypes: eager (no jit), as tutorial 06. Epoch rows: train s = train_step, "
              "eval s = the per-batch monitoring eval_step (t_eval=5), epoch s = the loop the "
              "tutorial times; accuracy = the tutorial's per-epoch 'Mean accuracy'. "
              "'final' = final evaluation, 63 batches x 10 steps on the 1,000 training samples.")
    else:
        print("\nfashion: jitted train/eval steps, as tutorial 07; eval = 10,000 test images, "
              "2*T_EVAL=20 forward steps; epoch s = train s + eval s.")


def main() -> None:
    epochs = ARGS.epochs or (3 if ARGS.workload == "prototypes" else 5)
    print(f"darnax {DARNAX_COMMIT} from {_src} ({Path(darnax.__file__).parent})")
    print(f"jax {jax.__version__}, equinox {eqx.__version__}, optax {optax.__version__}, "
          f"numpy {np.__version__}, python {platform.python_version()}")  # fmt: skip
    print(f"jax.devices() = {jax.devices()}, os.cpu_count() = {os.cpu_count()}", flush=True)
    t = time.perf_counter()
    if ARGS.workload == "prototypes":
        rows = run_prototypes(epochs)
    else:
        rows = run_fashion(epochs, Path(ARGS.data))
    total = time.perf_counter() - t
    print_table(rows)
    print(f"\njax {jax.__version__}; jax.devices() = {jax.devices()}; "
          f"total wall time {total:.1f}s")  # fmt: skip
    if ARGS.json:
        meta = {
            "darnax_commit": DARNAX_COMMIT, "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()], "cpu_count": os.cpu_count(),
            "total_s": total,
        }  # fmt: skip
        Path(ARGS.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
