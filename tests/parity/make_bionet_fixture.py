"""Generate the darnax ("bionet") numeric parity fixture.

This script runs the ORIGINAL darnax JAX code (modules, LayerMap,
SequentialOrchestrator, DynamicalTrainer, optax) on three tiny networks that
mirror the darnax tutorials, and dumps every intermediate quantity needed to
check a re-implementation step by step:

  case "t06_dense_adam"        tutorial 06 structure/hyper-parameters
                               (FullyConnected in, RecurrentDiscrete, FrozenFullyConnected
                               back, FullyConnected out, OutputLayer), +-1 one-hot labels,
                               T "all" steps then T "forward" steps (step / step_inference),
                               optax.adam(5e-3); eval = init(x, None), T_eval forward steps,
                               predict, argmax.
  case "t08_dense_trainer"     tutorial 07/08 hyper-parameters, "c-rescale" labels
                               (one_hot*sqrt(C)/2 - 0.5), DynamicalTrainer schedule
                               (warmup forward / clamped all / free forward), optax.adam(2e-3).
  case "t09_sparse_sgd"        tutorial 09 module kinds (SparseFullyConnected,
                               SparseRecurrentDiscrete, FrozenRescaledFullyConnected,
                               FullyConnected, OutputLayer), pm1 labels, real-valued input
                               in [0,1] (x_transform="identity"), optax.multi_transform of SGDs
                               with sparsity-rescaled learning rates, followed by the tutorial's
                               custom multiplicative weight decay.

How to run
----------
Requirements (a throw-away venv is fine)::

    python3.11 -m venv venv
    venv/bin/pip install "jax[cpu]==0.4.38" "jaxlib==0.4.38" "equinox==0.12.2" \
        "optax==0.2.5" "numpy==2.3.4"

plus a checkout of darnax (https://github.com/Willinki/darnax) at commit
d42e00e ("Simplify dataset shuffle API") whose ``src/`` directory is on
PYTHONPATH (darnax's optional ``datasets``/``pillow`` deps are NOT needed: only
darnax.layer_maps / modules / orchestrators / states / trainers are imported)::

    PYTHONPATH=/path/to/darnax/src venv/bin/python tests/parity/make_bionet_fixture.py

Output: ``crates/tat-core/tests/fixtures/bionet_parity.json`` (relative to the
repository root; override with ``--out PATH``).  Runs in a few seconds on CPU.

Conventions used in the JSON (see also the "conventions" entry written into the file)
-------------------------------------------------------------------------------------
* All arrays are float32 values written as the shortest decimal that round-trips
  to the same float32 (also via an f64 parse + cast), as ``{"shape": [...],
  "data": [...]}`` with ``data`` flattened row-major (C order).
* Batch-major states: row ``r`` of the state has shape ``(B, size_r)``.
* Weight orientation: every message is ``s_sender @ M`` where ``M`` has shape
  ``(in=size_sender, out=size_receiver)`` -- i.e. ``W[i, j]`` couples sender unit
  ``i`` to receiver unit ``j``; the recurrent ``J[i, j]`` couples unit ``i`` -> unit ``j``.
* Parameter names are ``"<row>,<col>/<field>"`` (row = receiver, col = sender), e.g.
  ``"1,1/J"``.  ``grads`` are the pseudo-gradients exactly as handed to
  ``optimizer.update`` (optax SUBTRACTS ``lr * f(grad)``); they equal
  ``-(x^T (mistake * y)) / (sqrt(B) * sqrt(fan_in))`` (masked).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import equinox as eqx  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jax.tree_util as jtu  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from darnax.layer_maps.sparse import LayerMap  # noqa: E402
from darnax.modules.fully_connected import (  # noqa: E402
    FrozenFullyConnected,
    FrozenRescaledFullyConnected,
    FullyConnected,
    SparseFullyConnected,
)
from darnax.modules.input_output import OutputLayer  # noqa: E402
from darnax.modules.recurrent import RecurrentDiscrete, SparseRecurrentDiscrete  # noqa: E402
from darnax.orchestrators.sequential import SequentialOrchestrator  # noqa: E402
from darnax.states.sequential import SequentialState  # noqa: E402
from darnax.trainers.dynamical import DynamicalTrainer  # noqa: E402

warnings.filterwarnings("ignore", category=DeprecationWarning)

DARNAX_COMMIT = "d42e00e"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "crates" / "tat-core" / "tests" / "fixtures" / "bionet_parity.json"


# --------------------------------------------------------------------------- #
# JSON helpers
# --------------------------------------------------------------------------- #
def _f32_token(v: np.float32) -> float:
    """Shortest decimal that round-trips to the same float32 (checked)."""
    s = str(np.float32(v))
    if s in ("nan", "inf", "-inf"):
        raise ValueError(f"non-finite value {s}")
    out = float(s)
    # Must survive both a direct f32 parse and an f64 parse followed by a cast.
    assert np.float32(out) == np.float32(v), (s, v)
    assert np.float64(out).astype(np.float32) == np.float32(v), (s, v)
    return out


def arr(a: Any) -> dict[str, Any]:
    a = np.asarray(a)
    if a.dtype == np.bool_:
        a = a.astype(np.float32)
    a = a.astype(np.float32)
    return {"shape": list(a.shape), "data": [_f32_token(v) for v in a.reshape(-1)]}


def iarr(a: Any) -> list[int]:
    return [int(v) for v in np.asarray(a).reshape(-1)]


def scalar_or_list(a: Any) -> Any:
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    if a.size and np.all(a == a[0]):
        return _f32_token(a[0])
    return [_f32_token(v) for v in a]


# --------------------------------------------------------------------------- #
# Introspection of the real darnax objects
# --------------------------------------------------------------------------- #
def module_arrays(module: eqx.Module) -> dict[str, jax.Array]:
    out: dict[str, jax.Array] = {}
    for f in dataclasses.fields(module):
        v = getattr(module, f.name, None)
        if isinstance(v, jax.Array):
            out[f.name] = v
    return out


def all_params(orch: SequentialOrchestrator) -> dict[str, jax.Array]:
    out: dict[str, jax.Array] = {}
    for (i, j), m in orch.lmap.edge_items():
        for name, v in module_arrays(m).items():
            out[f"{i},{j}/{name}"] = v
    return out


TRAINABLE_FIELD = {
    "FullyConnected": "W",
    "SparseFullyConnected": "W",
    "RecurrentDiscrete": "J",
    "SparseRecurrentDiscrete": "J",
}


def describe_layer_map(orch: SequentialOrchestrator, extra: dict[tuple[int, int], dict]) -> list:
    desc = []
    for (i, j), m in orch.lmap.edge_items():
        kind = type(m).__name__
        d: dict[str, Any] = {"row": i, "col": j, "kind": kind}
        arrays = module_arrays(m)
        if "W" in arrays:
            d["in_features"], d["out_features"] = (int(s) for s in arrays["W"].shape)
        if "J" in arrays:
            d["features"] = int(arrays["J"].shape[0])
            d["j_d"] = scalar_or_list(arrays["J_D"])
        if "strength" in arrays:
            d["strength"] = scalar_or_list(arrays["strength"])
        if "threshold" in arrays:
            d["threshold"] = scalar_or_list(arrays["threshold"])
        d["trainable"] = kind in TRAINABLE_FIELD
        if kind in TRAINABLE_FIELD:
            d["trainable_param"] = f"{i},{j}/{TRAINABLE_FIELD[kind]}"
        if "_mask" in arrays:
            d["mask_dtype"] = str(arrays["_mask"].dtype)
            if kind == "RecurrentDiscrete":
                d["mask"] = "1 - I (float32, not stored in params_init)"
            else:
                d["mask_param"] = f"{i},{j}/_mask"
                d["mask_note"] = ("0/1 ints; fixed; W/J = init * mask; grads *= mask"
                                  + ("; diagonal is 0 so J_D is never updated/decayed"
                                     if "J" in arrays else ""))
        d.update(extra.get((i, j), {}))
        desc.append(d)
    return desc


def params_init_json(orch: SequentialOrchestrator) -> dict[str, Any]:
    """All array leaves of every module.  Masks are written as 0/1 integers; the dense
    RecurrentDiscrete._mask (always 1 - I) is omitted (asserted here)."""
    out: dict[str, Any] = {}
    for (i, j), m in orch.lmap.edge_items():
        for name, v in module_arrays(m).items():
            key = f"{i},{j}/{name}"
            if name == "_mask":
                if type(m).__name__ == "RecurrentDiscrete":
                    n = v.shape[0]
                    assert np.array_equal(np.asarray(v), 1 - np.eye(n, dtype=np.float32))
                    continue
                out[key] = {"shape": list(v.shape), "data": iarr(np.asarray(v).astype(np.int32))}
            else:
                out[key] = arr(v)
    return out


def state_rows(s: SequentialState) -> list[dict[str, Any]]:
    return [arr(x) for x in s.states]


def states_equal(a: SequentialState, b: SequentialState) -> bool:
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.states, b.states))


# --------------------------------------------------------------------------- #
# Instrumented mirrors (used ONLY to read out the fields; the real methods
# produce the states/updates and we assert the mirror agrees bit-for-bit).
# --------------------------------------------------------------------------- #
def step_with_fields(orch, state, rng, filter_messages):
    """Mirror of SequentialOrchestrator.step that also returns per-row fields."""
    fields = {}
    s = state
    for r, senders in orch.lmap.row_items(skip_last=True, subset=filter_messages):
        rng, sub = jax.random.split(rng)
        msgs = orch._compute_messages(senders, s, rng=sub)
        agg = orch.lmap[r, r].reduce(msgs)
        s = s.replace_val(r, orch.lmap[r, r].activation(agg))
        fields[r] = agg
    return s, rng, fields


def backward_fields(orch, state, rng, filter_messages="forward"):
    """Mirror of the first pass of SequentialOrchestrator.backward (the y_hat's)."""
    acts = {}
    for r, senders in orch.lmap.row_items(skip_last=False, subset=filter_messages):
        rng, sub = jax.random.split(rng)
        msgs = orch._compute_messages(senders, state, rng=sub)
        acts[r] = orch.lmap[r, r].reduce(msgs)
    return acts


def run_step(orch, state, rng, filter_messages, use_step_inference=False):
    """One real orchestrator step + fields from the mirror; asserts agreement."""
    if use_step_inference:
        assert filter_messages == "forward"
        new_s, new_rng = orch.step_inference(state, rng=rng)
    else:
        new_s, new_rng = orch.step(state, rng=rng, filter_messages=filter_messages)
    mir_s, mir_rng, fields = step_with_fields(orch, state, rng, filter_messages)
    assert states_equal(new_s, mir_s), "mirror step disagrees with orchestrator.step"
    assert np.array_equal(jax.random.key_data(new_rng), jax.random.key_data(mir_rng))
    return new_s, new_rng, fields


def record_step(phase, filt, idx, s, fields):
    return {
        "phase": phase,
        "filter": filt,
        "index_in_phase": idx,
        "updated_rows": sorted(int(r) for r in fields),
        "fields": {str(r): arr(v) for r, v in fields.items()},
        # only the rows written by this step; all other rows are unchanged (see initial_state)
        "state": {str(r): arr(s[r]) for r in sorted(fields)},
    }


def update_block(orch, new_orch, grads_tree, updates_tree):
    """Record pseudo-gradients, optax updates and new params; check zero leaves."""
    p_before = all_params(orch)
    p_after = all_params(new_orch)
    g = {}
    u = {}
    for (i, j), m in grads_tree.lmap.edge_items():
        for name, v in module_arrays(m).items():
            g[f"{i},{j}/{name}"] = v
    for (i, j), m in updates_tree.lmap.edge_items():
        for name, v in module_arrays(m).items():
            u[f"{i},{j}/{name}"] = v
    trainable = []
    for (i, j), m in orch.lmap.edge_items():
        kind = type(m).__name__
        if kind in TRAINABLE_FIELD:
            trainable.append(f"{i},{j}/{TRAINABLE_FIELD[kind]}")
    # every non-trainable leaf must have an exactly-zero grad and be unchanged
    for k, v in g.items():
        if k not in trainable:
            assert not np.any(np.asarray(v)), f"unexpected nonzero grad in {k}"
    for k, v in p_before.items():
        if k not in trainable:
            assert np.array_equal(np.asarray(v), np.asarray(p_after[k])), f"{k} changed"
    return {
        "trainable_params": trainable,
        "grads": {k: arr(g[k]) for k in trainable},
        "params_after": {k: arr(p_after[k]) for k in trainable},
        "note": "all other parameter leaves receive exactly-zero grads and are unchanged",
    }


def max_param_diff(a, b) -> float:
    pa, pb = all_params(a), all_params(b)
    return float(max(np.max(np.abs(np.asarray(pa[k], dtype=np.float32)
                                   - np.asarray(pb[k], dtype=np.float32))) for k in pa))


# --------------------------------------------------------------------------- #
# Data helpers (copied from the tutorials)
# --------------------------------------------------------------------------- #
class PrototypeData:
    """Verbatim copy of tutorial 06's PrototypeData (minus the iterator)."""

    RAND_THRESHOLD = 0.5

    def __init__(self, key, batch_size=16, num_prototypes=10, dim_prototypes=100,
                 num_data=1000, p_noise=0.3):
        assert 0 <= p_noise < self.RAND_THRESHOLD
        assert num_data >= num_prototypes
        assert batch_size > 1
        self.num_prototypes = int(num_prototypes)
        self.dim_prototypes = int(dim_prototypes)
        self.num_data = int(num_data)
        self.p_noise = float(p_noise)
        self.batch_size = int(batch_size)
        self.num_batches = -(-self.num_data // self.batch_size)
        key_prototypes, key_data = jax.random.split(key)
        self.prototypes = jax.random.rademacher(
            key_prototypes, shape=(self.num_prototypes, self.dim_prototypes), dtype=jnp.float32
        )
        self._create_data(key_data)

    def _create_data(self, key):
        self.y = jnp.full((self.num_prototypes, self.num_prototypes), -1.0, dtype=jnp.float32)
        self.y = self.y.at[jnp.diag_indices_from(self.y)].set(1.0)
        self.y = jnp.repeat(self.y, self.num_data // self.num_prototypes + 1, axis=0,
                            total_repeat_length=self.num_data)
        key, carry = jax.random.split(key)
        self.x = jnp.repeat(self.prototypes, self.num_data // self.num_prototypes + 1, axis=0,
                            total_repeat_length=self.num_data)
        flip_mask = jax.random.bernoulli(carry, p=1 - self.p_noise, shape=self.x.shape) * 2.0 - 1.0
        self.x = self.x * flip_mask
        shuffle = jax.random.permutation(key, self.num_data)
        self.x = self.x[shuffle].astype(jnp.float32)
        self.y = self.y[shuffle].astype(jnp.float32)


def labels_c_rescale(ids, c):
    """Tutorial 07/08 (and Mnist label_mode='c-rescale'): one_hot*sqrt(C)/2 - 0.5."""
    return jax.nn.one_hot(ids, c, dtype=jnp.float32) * (c**0.5 / 2.0) - 0.5


def labels_pm1(ids, c):
    """Mnist label_mode='pm1': one_hot*2 - 1."""
    return jax.nn.one_hot(ids, c, dtype=jnp.float32) * 2.0 - 1.0


# --------------------------------------------------------------------------- #
# Case 1: tutorial 06
# --------------------------------------------------------------------------- #
def case_t06() -> dict[str, Any]:
    D, H, C, B = 20, 32, 4, 6
    THRESHOLD_OUT, THRESHOLD_IN, THRESHOLD_J = 3.5, 3.5, 0.5
    STRENGTH_BACK, STRENGTH_FORTH, J_D = 0.3, 1.0, 0.5
    LR = 5e-3
    T_TRAIN, T_EVAL = 3, 5

    state = SequentialState((D, H, C))
    keys = jax.random.split(jax.random.key(seed=44), num=5)
    lm = LayerMap.from_dict({
        1: {
            0: FullyConnected(in_features=D, out_features=H, strength=STRENGTH_FORTH,
                              threshold=THRESHOLD_IN, key=keys[0]),
            1: RecurrentDiscrete(features=H, j_d=J_D, threshold=THRESHOLD_J, key=keys[1]),
            2: FrozenFullyConnected(in_features=C, out_features=H, strength=STRENGTH_BACK,
                                    threshold=0.0, key=keys[2]),
        },
        2: {
            1: FullyConnected(in_features=H, out_features=C, strength=1.0,
                              threshold=THRESHOLD_OUT, key=keys[3]),
            2: OutputLayer(),
        },
    })
    orch = SequentialOrchestrator(layers=lm)
    optimizer = optax.adam(LR)
    opt_state = optimizer.init(eqx.filter(orch, eqx.is_inexact_array))

    master_key = jax.random.key(59)
    master_key, data_key = jax.random.split(master_key)
    data = PrototypeData(key=data_key, batch_size=B, num_prototypes=C, dim_prototypes=D,
                         num_data=B, p_noise=0.3)
    x, y = data.x, data.y
    class_ids = jnp.argmax(y, axis=-1)

    case: dict[str, Any] = {
        "name": "t06_dense_adam",
        "tutorial": "docs/tutorials/06_simple_net_on_artificial_data.py",
        "description": (
            "Tutorial-06 topology and hyper-parameters at small size. Train: s=init(x,y); "
            f"{T_TRAIN} x orch.step(filter='all') then {T_TRAIN} x orch.step_inference() "
            "(== step(filter='forward')); grads=orch.backward(s) (filter 'forward'); "
            "optax.adam(5e-3) one step. Eval: s=init(x, None) (output row zeros); "
            f"{T_EVAL} x step_inference; predict; argmax."
        ),
        "dims": {"input": D, "hidden": H, "output": C},
        "sizes": [D, H, C],
        "batch": B,
        "dtype": "float32",
        "data_generation": {
            "generator": "tutorial-06 PrototypeData",
            "key": "jax.random.split(jax.random.key(59))[1]",
            "num_prototypes": C, "dim_prototypes": D, "num_data": B, "p_noise": 0.3,
        },
    }
    case["layer_map"] = describe_layer_map(orch, {})
    case["params_init"] = params_init_json(orch)
    case["x"] = arr(x)
    case["labels"] = {"class_ids": iarr(class_ids), "encoding": "pm1 (+1 true class, -1 else)",
                      "y": arr(y)}

    # ---- training dynamics (tutorial 06 run_dynamics_training) ----
    rng = jax.random.key(1234)
    s = state.init(x, y)
    steps = []
    for t in range(T_TRAIN):
        s, rng, f = run_step(orch, s, rng, "all")
        steps.append(record_step("clamped", "all", t, s, f))
    for t in range(T_TRAIN):
        s, rng, f = run_step(orch, s, rng, "forward", use_step_inference=True)
        steps.append(record_step("free", "forward", t, s, f))

    # ---- update (tutorial 06 `update`) ----
    rng, update_key = jax.random.split(rng)
    yhat = backward_fields(orch, s, update_key, "forward")
    grads_full = orch.backward(s, rng=update_key)
    params = eqx.filter(orch, eqx.is_inexact_array)
    grads = eqx.filter(grads_full, eqx.is_inexact_array)
    updates, opt_state = optimizer.update(grads, opt_state, params=params)
    new_orch = eqx.apply_updates(orch, updates)

    case["train"] = {
        "schedule": [
            {"phase": "clamped", "filter": "all", "steps": T_TRAIN},
            {"phase": "free", "filter": "forward", "steps": T_TRAIN},
        ],
        "initial_state": state_rows(state.init(x, y)),
        "steps": steps,
        "final_state": state_rows(s),
        "backward": {
            "filter": "forward",
            "y_hat": {str(r): arr(v) for r, v in yhat.items()},
            "edge_inputs": "edge (i,j): x=state[j], y=state[i], y_hat=y_hat[i], margin=threshold of edge (i,j)",
        },
        "optimizer": {"type": "adam", "lr": LR, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                      "eps_root": 0.0, "step": 1},
        **update_block(orch, new_orch, grads_full, updates),
    }

    # ---- eval (tutorial 06 eval_step) ----
    rng = jax.random.key(4321)
    s = state.init(x, None)
    esteps = []
    for t in range(T_EVAL):
        s, rng, f = run_step(new_orch, s, rng, "forward", use_step_inference=True)
        esteps.append(record_step("eval", "forward", t, s, f))
    s, rng = new_orch.predict(s, rng)
    pred = jnp.argmax(s[-1], axis=-1)
    case["eval"] = {
        "init": "state.init(x, None): input=x, hidden=0, output=0",
        "schedule": [{"phase": "eval", "filter": "forward", "steps": T_EVAL}],
        "initial_state": state_rows(state.init(x, None)),
        "steps": esteps,
        "predict_output": arr(s[-1]),
        "argmax": iarr(pred),
        "accuracy": _f32_token(jnp.mean((pred == class_ids).astype(jnp.float32))),
    }
    return case


# --------------------------------------------------------------------------- #
# Generic DynamicalTrainer replay (cases 2 and 3)
# --------------------------------------------------------------------------- #
def trainer_case(orch, state, optimizer, x, y, class_ids, n_warm, n_clamp, n_free, n_eval,
                 post_update=None):
    """Eager replay of DynamicalTrainer._train_step_impl/_eval_step_impl with recording,
    cross-checked against the real (jitted) DynamicalTrainer."""
    opt_state = optimizer.init(eqx.filter(orch, eqx.is_inexact_array))
    rng0 = jax.random.key(2024)

    # ---- real trainer (jit) ----
    trainer = DynamicalTrainer(orchestrator=orch, state=state, optimizer=optimizer,
                               optimizer_state=opt_state, warmup_n_iter=n_warm,
                               train_clamped_n_iter=n_clamp, train_free_n_iter=n_free,
                               eval_n_iter=n_eval)
    rng_after_train = trainer.train_step(x, y, rng0)
    trained_state_real = trainer.state
    orch_real = trainer.orchestrator
    if post_update is not None:
        trainer.orchestrator = post_update(trainer.orchestrator)
    rng_eval0 = jax.random.key(777)
    _, metrics_real = trainer.eval_step(x, y, rng_eval0)
    eval_state_real = trainer.state

    # ---- eager replay ----
    rng = rng0
    s = state.init(x, y)
    init_state = s
    steps = []
    for phase, filt, n in (("warmup", "forward", n_warm), ("clamped", "all", n_clamp),
                           ("free", "forward", n_free)):
        for t in range(n):
            s, rng, f = run_step(orch, s, rng, filt)
            steps.append(record_step(phase, filt, t, s, f))
    yhat = backward_fields(orch, s, rng, "forward")
    grads_full = orch.backward(s, rng=rng)
    params = eqx.filter(orch, eqx.is_inexact_array)
    grads = eqx.filter(grads_full, eqx.is_inexact_array)
    updates, _ = optimizer.update(grads, opt_state, params=params)
    new_orch = eqx.apply_updates(orch, updates)

    train = {
        "schedule": [
            {"phase": "warmup", "filter": "forward", "steps": n_warm},
            {"phase": "clamped", "filter": "all", "steps": n_clamp},
            {"phase": "free", "filter": "forward", "steps": n_free},
        ],
        "initial_state": state_rows(init_state),
        "steps": steps,
        "final_state": state_rows(s),
        "backward": {
            "filter": "forward",
            "y_hat": {str(r): arr(v) for r, v in yhat.items()},
            "edge_inputs": "edge (i,j): x=state[j], y=state[i], y_hat=y_hat[i], margin=threshold of edge (i,j)",
        },
        **update_block(orch, new_orch, grads_full, updates),
        "crosscheck_jit_trainer": {
            "final_state_equal": states_equal(s, trained_state_real),
            "max_abs_param_diff_vs_DynamicalTrainer_train_step": max_param_diff(new_orch, orch_real),
        },
    }
    orch_eval = new_orch
    if post_update is not None:
        orch_eval = post_update(new_orch)
        p_dec = all_params(orch_eval)
        train["params_after_decay"] = {k: arr(p_dec[k]) for k in train["trainable_params"]}

    # ---- eval ----
    rng = rng_eval0
    s = state.init(x, y)
    einit = s
    esteps = []
    for phase, n in (("warmup", n_warm), ("eval", n_eval)):
        for t in range(n):
            s, rng, f = run_step(orch_eval, s, rng, "forward")
            esteps.append(record_step(phase, "forward", t, s, f))
    s, rng = orch_eval.predict(s, rng=rng)
    pred = jnp.argmax(s[-1], axis=-1)
    acc = jnp.mean((pred == class_ids).astype(jnp.float32))
    ev = {
        "init": "state.init(x, y) (DynamicalTrainer clamps labels in eval too; they are never "
                "read by forward-filtered steps and predict overwrites the output row)",
        "schedule": [{"phase": "warmup", "filter": "forward", "steps": n_warm},
                     {"phase": "eval", "filter": "forward", "steps": n_eval}],
        "initial_state": state_rows(einit),
        "steps": esteps,
        "predict_output": arr(s[-1]),
        "argmax": iarr(pred),
        "accuracy": _f32_token(acc),
        "crosscheck_jit_trainer": {
            "accuracy_DynamicalTrainer_eval_step": _f32_token(metrics_real["accuracy"]),
            "max_abs_output_diff": float(np.max(np.abs(np.asarray(s[-1])
                                                       - np.asarray(eval_state_real[-1])))),
            "hidden_state_equal": bool(np.array_equal(np.asarray(s[1]),
                                                      np.asarray(eval_state_real[1]))),
        },
    }
    del rng_after_train
    return train, ev


# --------------------------------------------------------------------------- #
# Case 2: tutorial 07/08 (dense, c-rescale labels, DynamicalTrainer, adam)
# --------------------------------------------------------------------------- #
def case_t08() -> dict[str, Any]:
    D, H, C, B = 20, 24, 10, 6
    THRESHOLD_OUT = THRESHOLD_IN = THRESHOLD_J = 1.0
    STRENGTH_BACK, STRENGTH_FORTH, J_D = 0.5, 5.0, 0.5
    LR = 2e-3
    NW, NC, NF, NE = 1, 3, 3, 3

    state = SequentialState((D, H, C))
    keys = jax.random.split(jax.random.key(44), 5)
    lm = LayerMap.from_dict({
        1: {
            0: FullyConnected(in_features=D, out_features=H, strength=STRENGTH_FORTH,
                              threshold=THRESHOLD_IN, key=keys[0]),
            1: RecurrentDiscrete(features=H, j_d=J_D, threshold=THRESHOLD_J, key=keys[1]),
            2: FrozenFullyConnected(in_features=C, out_features=H, strength=STRENGTH_BACK,
                                    threshold=0.0, key=keys[2]),
        },
        2: {
            1: FullyConnected(in_features=H, out_features=C, strength=1.0,
                              threshold=THRESHOLD_OUT, key=keys[3]),
            2: OutputLayer(),
        },
    })
    orch = SequentialOrchestrator(layers=lm)
    kx, ky = jax.random.split(jax.random.key(8))
    x = jax.random.rademacher(kx, (B, D), dtype=jnp.float32)
    class_ids = jax.random.randint(ky, (B,), 0, C)
    y = labels_c_rescale(class_ids, C)

    case: dict[str, Any] = {
        "name": "t08_dense_trainer",
        "tutorial": "docs/tutorials/08_trainer_on_mnist.py (hyper-parameters shared with 07)",
        "description": (
            "Tutorial-07/08 hyper-parameters at small size with the DynamicalTrainer schedule: "
            f"init(x,y); {NW} step(filter='forward'); {NC} step(filter='all'); {NF} "
            "step(filter='forward'); backward; optax.adam(2e-3). Labels use the 'c-rescale' "
            "encoding one_hot*sqrt(C)/2 - 0.5 (true class 1.0811388, others -0.5). Eval: "
            f"init(x,y); {NW}+{NE} forward steps; predict; argmax."
        ),
        "dims": {"input": D, "hidden": H, "output": C},
        "sizes": [D, H, C],
        "batch": B,
        "dtype": "float32",
        "data_generation": {"x": "jax.random.rademacher (stand-in for sign(random projection))",
                            "labels": "random class ids, c-rescale encoding"},
        "layer_map": describe_layer_map(orch, {}),
        "params_init": params_init_json(orch),
        "x": arr(x),
        "labels": {"class_ids": iarr(class_ids),
                   "encoding": "c-rescale: one_hot*sqrt(C)/2 - 0.5", "y": arr(y)},
    }
    optimizer = optax.adam(LR)
    train, ev = trainer_case(orch, state, optimizer, x, y, class_ids, NW, NC, NF, NE)
    train["optimizer"] = {"type": "adam", "lr": LR, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
                          "eps_root": 0.0, "step": 1}
    case["train"] = train
    case["eval"] = ev
    return case


# --------------------------------------------------------------------------- #
# Case 3: tutorial 09 (sparse modules, multi_transform SGD, custom decay)
# --------------------------------------------------------------------------- #
def make_lr_map_v2(model, overrides=None, default_label="default"):
    """Verbatim copy of tutorial 09's make_lr_map_v2."""
    params, _ = eqx.partition(model, eqx.is_inexact_array)

    def like(tree, value):
        return jtu.tree_map(lambda _: value, tree, is_leaf=eqx.is_array)

    labels = jtu.tree_map(lambda _: default_label, params, is_leaf=eqx.is_array)
    if overrides:
        for (i, j), label in overrides.items():
            labels = eqx.tree_at(lambda m: m.lmap[i][j], labels,
                                 replace=like(params.lmap[i][j], label))
    return labels


def decay(orchestrator, config):
    """Verbatim copy of tutorial 09's decay()."""
    new_orch = orchestrator
    dim_data = config["model"]["kwargs"]["dim_data"]
    dim_hidden = config["model"]["kwargs"]["dim_hidden"]
    W_in = jnp.asarray(new_orch.lmap[1][0].W)
    rescaling_win = (
        config["optimizer"]["weight_decay_win"]
        / (1 - config["model"]["kwargs"]["sparsity_win"]) ** 0.5
        * ((1 - 0.90) ** 0.5)
        * config["optimizer"]["learning_rate_win"]
        / (dim_data**0.5)
    )
    W_in_new = W_in * (1.0 - rescaling_win)
    new_orch = eqx.tree_at(lambda o: o.lmap[1][0].W, new_orch, W_in_new)
    J = jnp.asarray(new_orch.lmap[1][1].J)
    mask = jnp.asarray(new_orch.lmap[1][1]._mask)
    rescaling_j = (
        config["optimizer"]["weight_decay_j"]
        * config["optimizer"]["learning_rate_j"]
        / (1 - config["model"]["kwargs"]["sparsity"]) ** 0.5
        * ((1 - 0.90) ** 0.5)
        / (dim_hidden**0.5)
    )
    J_new = J * (1.0 - rescaling_j * mask)
    new_orch = eqx.tree_at(lambda o: o.lmap[1][1].J, new_orch, J_new)
    W_out = jnp.asarray(new_orch.lmap[2][1].W)
    rescaling_wout = (
        config["optimizer"]["weight_decay_wout"]
        * config["optimizer"]["learning_rate_wout"]
        / (dim_hidden**0.5)
    )
    W_out_new = W_out * (1.0 - rescaling_wout)
    new_orch = eqx.tree_at(lambda o: o.lmap[2][1].W, new_orch, W_out_new)
    return new_orch


def case_t09() -> dict[str, Any]:
    D, H, C, B = 20, 32, 10, 6
    cfg = {
        "model": {"kwargs": {
            "seed": 44, "dim_data": D, "dim_hidden": H, "num_labels": C,
            "sparsity": 0.75,       # tutorial: 0.99 (too empty for a 32-unit layer)
            "sparsity_win": 0.5,    # tutorial: 0.9
            "strength_forth": 5.0, "strength_back": 1.3, "j_d": 0.95,
            "threshold_in": 1.78, "threshold_out": 7.0, "threshold_j": 1.78,
            "threshold_back": 0.0,
        }},
        "optimizer": {
            "learning_rate_win": 0.159, "learning_rate_j": 0.058, "learning_rate_wout": 0.17,
            "weight_decay_win": 0.01, "weight_decay_j": 0.00006, "weight_decay_wout": 0.02,
        },
    }
    NW, NC, NF, NE = 1, 3, 3, 3
    k = cfg["model"]["kwargs"]

    # build_model (tutorial 09)
    state = SequentialState((k["dim_data"], k["dim_hidden"], k["num_labels"]))
    keys = jax.random.split(jax.random.key(k["seed"]), num=5)
    lm = LayerMap.from_dict({
        1: {
            0: SparseFullyConnected(in_features=D, out_features=H, strength=k["strength_forth"],
                                    threshold=k["threshold_in"], sparsity=k["sparsity_win"],
                                    key=keys[0]),
            1: SparseRecurrentDiscrete(features=H, j_d=k["j_d"], sparsity=k["sparsity"],
                                       threshold=k["threshold_j"], key=keys[1]),
            2: FrozenRescaledFullyConnected(in_features=C, out_features=H,
                                            strength=k["strength_back"],
                                            threshold=k["threshold_back"], key=keys[2]),
        },
        2: {
            1: FullyConnected(in_features=H, out_features=C, strength=1.0,
                              threshold=k["threshold_out"], key=keys[3]),
            2: OutputLayer(),
        },
    })
    orch = SequentialOrchestrator(layers=lm)

    # optimizer (tutorial 09 train_once)
    lr_map = make_lr_map_v2(orch, overrides={(1, 0): "w_in", (1, 1): "j", (2, 1): "w_out"})
    lr_win = cfg["optimizer"]["learning_rate_win"]
    lr_wout = cfg["optimizer"]["learning_rate_wout"]
    lr_j = cfg["optimizer"]["learning_rate_j"]
    lr_j /= jnp.sqrt(1.0 - k["sparsity"])
    lr_win /= jnp.sqrt(1.0 - k["sparsity_win"])
    optimizer = optax.multi_transform(
        {
            "default": optax.sgd(learning_rate=0.0),
            "w_in": optax.sgd(learning_rate=lr_win),
            "w_out": optax.sgd(learning_rate=lr_wout),
            "j": optax.sgd(learning_rate=lr_j),
        },
        lr_map,
    )

    # MNIST-like input with x_transform="identity": pixel values k/255 (float32), ~half zero
    kx1, kx2, ky = jax.random.split(jax.random.key(9), 3)
    pix = np.asarray(jax.random.randint(kx1, (B, D), 1, 256)).astype(np.float32)
    zero = np.asarray(jax.random.bernoulli(kx2, 0.5, (B, D)))
    x = jnp.asarray(np.where(zero, np.float32(0.0), pix / 255.0).astype(np.float32))
    class_ids = jax.random.randint(ky, (B,), 0, C)
    y = labels_pm1(class_ids, C)

    C_ = C
    crm1 = (C_ - 1) ** 0.5
    a = 1 / 2 * (crm1 / 2 + 1 / crm1)
    b = 1 / 2 * (crm1 / 2 - 1 / crm1)
    o = cfg["optimizer"]
    resc_win = (o["weight_decay_win"] / (1 - k["sparsity_win"]) ** 0.5 * ((1 - 0.90) ** 0.5)
                * o["learning_rate_win"] / (D**0.5))
    resc_j = (o["weight_decay_j"] * o["learning_rate_j"] / (1 - k["sparsity"]) ** 0.5
              * ((1 - 0.90) ** 0.5) / (H**0.5))
    resc_wout = o["weight_decay_wout"] * o["learning_rate_wout"] / (H**0.5)

    case: dict[str, Any] = {
        "name": "t09_sparse_sgd",
        "tutorial": "docs/tutorials/09_sota_on_mnist.py",
        "description": (
            "Tutorial-09 module kinds/thresholds/strengths/j_d/learning rates/weight decays at "
            "small size (sparsities reduced to 0.75 (J) and 0.5 (W_in)). DynamicalTrainer "
            f"schedule: init(x,y); {NW} forward; {NC} all; {NF} forward; backward; "
            "multi_transform SGD step (lr_win/sqrt(1-sparsity_win), lr_j/sqrt(1-sparsity), "
            "lr_wout); then the tutorial's decay() (params_after_decay). Eval uses the decayed "
            f"params: init(x,y); {NW}+{NE} forward steps; predict; argmax."
        ),
        "dims": {"input": D, "hidden": H, "output": C},
        "sizes": [D, H, C],
        "batch": B,
        "dtype": "float32",
        "config": cfg,
        "data_generation": {"x": "MNIST-like pixels k/255 in [0,1] with ~50% zeros "
                                 "(Mnist x_transform='identity', no projection)",
                            "labels": "random class ids, pm1 encoding"},
        "layer_map": describe_layer_map(orch, {
            (1, 0): {"sparsity": k["sparsity_win"]},
            (1, 1): {"sparsity": k["sparsity"]},
            (1, 2): {"rescale_a": a, "rescale_b": b,
                     "forward": "(y*a + b) @ W with C=in_features, a=(sqrt(C-1)/2+1/sqrt(C-1))/2, "
                                "b=(sqrt(C-1)/2-1/sqrt(C-1))/2"},
        }),
        "params_init": params_init_json(orch),
        "x": arr(x),
        "labels": {"class_ids": iarr(class_ids), "encoding": "pm1: one_hot*2-1", "y": arr(y)},
    }
    train, ev = trainer_case(orch, state, optimizer, x, y, class_ids, NW, NC, NF, NE,
                             post_update=lambda m: decay(m, cfg))
    train["optimizer"] = {
        "type": "multi_transform(sgd)",
        "lr": {"1,0/W": _f32_token(lr_win), "1,1/J": _f32_token(lr_j),
               "2,1/W": _f32_token(jnp.float32(lr_wout)), "default": 0.0},
        "update": "param_new = param + (-lr) * grad",
        "decay_after_step": {
            "1,0/W": {"factor": 1.0 - resc_win, "rescaling": resc_win},
            "1,1/J": {"factor_offdiag_active": 1.0 - resc_j, "rescaling": resc_j,
                      "note": "J * (1 - rescaling * _mask): entries with _mask=0 (diag, pruned) untouched"},
            "2,1/W": {"factor": 1.0 - resc_wout, "rescaling": resc_wout},
            "note": "rescalings use the UN-rescaled config learning rates; computed in float64 "
                    "Python, then jnp multiplies the float32 weights by (1 - rescaling) (weak-typed -> f32)",
        },
    }
    case["train"] = train
    case["eval"] = ev
    return case


CONVENTIONS = {
    "array_encoding": "{shape, data}; data is row-major (C-order) flattened float32, written as the "
                      "shortest decimal that round-trips to the same float32",
    "state": "list over rows r=0..L-1 (0=input, L-1=output) of arrays shaped (B, size_r)",
    "message": "edge (i<-j) message = state[j] @ P with P shape (size_j, size_i) "
               "(FullyConnected/Sparse/Frozen: P=W; Recurrent: P=J incl. diagonal J_D; "
               "FrozenRescaledFullyConnected: (state[j]*a + b) @ W; OutputLayer (i,i): zeros)",
    "field": "per updated row: sum of its incoming messages over the allowed senders, summed in "
             "increasing sender index order ((m0 + m1) + m2)",
    "filters": "'all': every sender; 'forward': senders j <= i; 'backward': j >= i",
    "activation": "RecurrentDiscrete rows: +1 if field >= 0 else -1 (0 -> +1); OutputLayer: identity",
    "step": "rows 1..L-2 updated in increasing order (Gauss-Seidel across rows, synchronous within a "
            "row); row 0 (input) and row L-1 (output) never touched by step()",
    "predict": "output row := sum of messages from ALL senders of the last row (no filter), identity "
               "activation",
    "grads": "pseudo-gradients as passed to optax (optax subtracts lr*transform(grad)); for a trainable "
             "edge (i,j) with margin k: g = -(x^T (mistake*y)) / (sqrt(B)*sqrt(fan_in)), x=state[j], "
             "y=state[i], y_hat=backward field of row i (forward filter), mistake = (y*y_hat <= k); "
             "RecurrentDiscrete: g*=(1-I); Sparse*: g*=_mask",
    "steps_record": "steps[k].state[r] is row r AFTER step k for each row r written by the step (other rows "
                    "are unchanged from initial_state); steps[k].fields[r] the pre-activation "
                    "of row r computed during step k (Gauss-Seidel: uses rows < r already updated in step k)",
    "adam": "optax 0.2.5, count=1 here: mu=f32(0.1)*g, nu=f32(0.001)*g*g, mu_hat=mu/(1-f32(0.9)), "
            "nu_hat=nu/(1-f32(0.999)) (f32 arithmetic), u=mu_hat/(sqrt(nu_hat)+1e-8), param += u*(-lr)",
    "tolerance_hint": "binary units may legitimately flip where |field| < 1e-5 due to summation order",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    fixture = {
        "generator": "tests/parity/make_bionet_fixture.py",
        "darnax_commit": DARNAX_COMMIT,
        "versions": {"jax": jax.__version__, "equinox": eqx.__version__,
                     "optax": optax.__version__, "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "conventions": CONVENTIONS,
        "cases": [case_t06(), case_t08(), case_t09()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(fixture, separators=(",", ":"))
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({len(text) / 1024:.1f} KiB)")
    for c in fixture["cases"]:
        tr, ev = c["train"], c["eval"]
        print(c["name"], "eval argmax", ev["argmax"], "acc", ev["accuracy"],
              "crosscheck", tr.get("crosscheck_jit_trainer"), ev.get("crosscheck_jit_trainer"))


if __name__ == "__main__":
    main()
