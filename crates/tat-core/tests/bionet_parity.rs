//! The bionet engine (`tasks::bionet::network`) against the original darnax (JAX), on the fixture
//! `fixtures/bionet_parity.json` that `tests/parity/make_bionet_fixture.py` recorded from darnax
//! @ d42e00e: tutorial 06 (dense, Adam), tutorial 08 (dense, the trainer's schedule, c-rescale
//! labels, Adam) and tutorial 09 (sparse, rescaled feedback, per-edge SGD, decay), at small size.
//!
//! Each case loads darnax's initial weights into the engine, then follows darnax through one
//! training step and one evaluation: every step of the dynamics (teacher-forced back to darnax's
//! state after each, so one legitimate flip cannot snowball), the local rule's pseudo-gradients,
//! the optimizer step, the decay, the evaluation's dynamics, scores and classes.
//!
//! Tolerances: hidden units are ±1 and must be equal, except that a unit may come out the other
//! way where darnax's field is within 1e-5 of 0 (summation order differs between XLA and
//! libtorch); gradients and parameters agree within 1e-5; fields and scores within
//! 1e-5 · max(1, |value|).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;
use tat_core::config::{
    BionetConfig, DynamicsConfig, EdgeConfig, FeedbackConfig, LabelEncoding, OptimizerKind, RecurrentConfig,
    TrainingConfig,
};
use tat_core::tasks::bionet::data::encode_labels;
use tat_core::tasks::bionet::network::{self, Filter, Network, State};
use tat_core::train::optim::{Optimizer, ParamGroup};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

const FIXTURE: &str = include_str!("fixtures/bionet_parity.json");

/// A hidden unit may differ from darnax's where darnax's |field| is below this.
const FLIP_FIELD: f64 = 1e-5;
/// Gradients and parameters (absolute); fields and scores (times max(1, |value|)).
const TOLERANCE: f64 = 1e-5;

/// The engine's variable for each fixture parameter that has one. The fixture's other leaves
/// (per-unit thresholds and strengths, `J_D`) are settings, checked against the config instead.
const VARIABLES: [(&str, &str); 6] = [
    ("1,0/W", "w_1"),
    ("1,0/_mask", "w_1_mask"),
    ("1,1/J", "j_1"),
    ("1,1/_mask", "j_1_mask"),
    ("1,2/W", "b_1"),
    ("2,1/W", "w_2"),
];

fn variable(key: &str) -> Option<&'static str> {
    VARIABLES.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[test]
fn the_engine_matches_darnax_on_t06_dense_adam() {
    check_case("t06_dense_adam");
}

#[test]
fn the_engine_matches_darnax_on_t08_dense_trainer() {
    check_case("t08_dense_trainer");
}

#[test]
fn the_engine_matches_darnax_on_t09_sparse_sgd() {
    check_case("t09_sparse_sgd");
}

// ---------------------------------------------------------------------------------------------
// The protocol

fn check_case(name: &str) {
    let case = load_case(name);
    let model = model_config(&case, name);
    let (vs, net) = network_from_fixture(&case, &model, name);
    let x = array(at(&case, &["x"]), &format!("{name}: x"));
    let y = array(at(&case, &["labels", "y"]), &format!("{name}: labels.y"));
    let sizes = model.layers.clone();
    assert_eq!(x.size(), [int(at(&case, &["batch"])), sizes[0]], "{name}: x is [batch, input width]");
    check_labels(&case, &model, &y, name);
    let rescale = feedback_rescale(&case, name);
    let dynamics = model.dynamics.clone();

    // 1. The training dynamics: labels clamped, warmup (forward), clamped (all), free (forward).
    let train = at(&case, &["train"]);
    let mut s = net.init(&x, Some(&y));
    check_initial_state(&s, at(train, &["initial_state"]), &[0, 1, 2], &format!("{name}: train"));
    let filters: Vec<Filter> = [
        (dynamics.warmup_steps, Filter::Forward),
        (dynamics.clamped_steps, Filter::All),
        (dynamics.free_steps, Filter::Forward),
    ]
    .iter()
    .flat_map(|&(n, f)| std::iter::repeat_n(f, n))
    .collect();
    let flips = follow(&net, &mut s, at(train, &["steps"]), &filters, rescale, &format!("{name}: train"));
    let final_state = arrays(at(train, &["final_state"]), &format!("{name}: train.final_state"));
    assert_eq!(final_state.len(), sizes.len(), "{name}: train.final_state has one array per row");
    assert_binary_equal(
        &format!("{name}: train.final_state row 1 against the last recorded step (fixture consistency)"),
        &s.rows[1],
        &final_state[1],
    );

    // 2. The local rule's pseudo-gradients from darnax's final state.
    let mut s = net.init(&x, Some(&y));
    assert_close(&format!("{name}: train.final_state row 0 is x"), &final_state[0], &x, 0.0, false);
    assert_close(&format!("{name}: train.final_state row 2 is the clamped y"), &final_state[2], &y, 0.0, false);
    s.rows = final_state.iter().map(Tensor::shallow_clone).collect();
    let backward = at(train, &["backward"]);
    assert_eq!(text(at(backward, &["filter"])), "forward", "{name}: darnax's rule reads forward fields");
    assert_close(
        &format!("{name}: backward y_hat[1] (recomputed from the engine's weights)"),
        &hidden_field(&net, &s.rows, Filter::Forward, rescale),
        &array(at(backward, &["y_hat", "1"]), name),
        TOLERANCE,
        true,
    );
    assert_close(
        &format!("{name}: backward y_hat[2] (the engine's predict)"),
        &net.predict(&s),
        &array(at(backward, &["y_hat", "2"]), name),
        TOLERANCE,
        true,
    );
    let updates: BTreeMap<String, Tensor> = net.updates(&s, None).into_iter().collect();
    let trainable: BTreeSet<String> = at(train, &["trainable_params"])
        .as_array()
        .unwrap_or_else(|| panic!("{name}: train.trainable_params is a list"))
        .iter()
        .map(|k| engine_name(text(k), name).to_string())
        .collect();
    assert_eq!(
        updates.keys().cloned().collect::<BTreeSet<_>>(),
        trainable,
        "{name}: the engine updates exactly darnax's trainable parameters"
    );
    let grads = object(at(train, &["grads"]), &format!("{name}: train.grads"));
    assert_eq!(grads.len(), trainable.len(), "{name}: one recorded gradient per trainable parameter");
    for (key, expected) in grads {
        let var = engine_name(key, name);
        assert_close(
            &format!("{name}: pseudo-gradient of {var} (darnax {key})"),
            &updates[var],
            &array(expected, key),
            TOLERANCE,
            false,
        );
    }

    // 3. The optimizer step from the engine's pseudo-gradients.
    let before: HashMap<String, Tensor> = vs.variables().into_iter().map(|(k, v)| (k, v.copy())).collect();
    let training = training_config(&case, name);
    let mut optimizer = optimizer(&vs, &net, &training);
    let names: Vec<String> = optimizer.names().map(str::to_string).collect();
    assert_eq!(names.iter().cloned().collect::<BTreeSet<_>>(), trainable, "{name}: the optimizer's parameters");
    let ordered: Vec<Tensor> = names.iter().map(|n| updates[n].shallow_clone()).collect();
    optimizer.apply(&ordered, training.learning_rate).unwrap_or_else(|e| panic!("{name}: optimizer step: {e}"));
    check_params(&vs, &before, at(train, &["params_after"]), &trainable, &format!("{name}: params_after"));

    // 4. The decay after the step (tutorial 09), else none at all.
    let stepped: HashMap<String, Tensor> = vs.variables().into_iter().map(|(k, v)| (k, v.copy())).collect();
    net.decay(|_| true);
    match train.get("params_after_decay") {
        Some(expected) => {
            check_params(&vs, &before, expected, &trainable, &format!("{name}: params_after_decay"));
            check_decay_alone(&case, &model, name);
        }
        None => {
            for (var, value) in vs.variables() {
                assert_close(&format!("{name}: {var} after a decay of 0"), &value, &stepped[&var], 0.0, false);
            }
        }
    }

    // 5. Evaluation with the updated weights: nothing clamped, forward steps, then the readout.
    let eval = at(&case, &["eval"]);
    let mut s = net.init(&x, None);
    // darnax's trainer clamps the labels in evaluation too; forward steps and predict never read them.
    check_initial_state(&s, at(eval, &["initial_state"]), &[0, 1], &format!("{name}: eval"));
    let filters = vec![Filter::Forward; dynamics.warmup_steps + dynamics.eval_steps];
    let eval_flips = follow(&net, &mut s, at(eval, &["steps"]), &filters, rescale, &format!("{name}: eval"));
    let scores = net.predict(&s);
    assert_close(
        &format!("{name}: eval predict_output"),
        &scores,
        &array(at(eval, &["predict_output"]), name),
        TOLERANCE,
        true,
    );
    let classes: Vec<i64> = Vec::try_from(&scores.argmax(-1, false)).unwrap();
    let expected: Vec<i64> = ints(at(eval, &["argmax"]), name);
    assert_eq!(classes, expected, "{name}: eval argmax (ours left, darnax's right); scores {scores}");
    let truth = ints(at(&case, &["labels", "class_ids"]), name);
    let correct = classes.iter().zip(&truth).filter(|(a, b)| a == b).count();
    let accuracy = correct as f64 / truth.len() as f64;
    let recorded = number(at(eval, &["accuracy"]));
    assert!((accuracy - recorded).abs() < 1e-6, "{name}: eval accuracy {accuracy}, darnax {recorded}");
    eprintln!("{name}: matched darnax ({flips} tolerated flips in training, {eval_flips} in evaluation)");
}

/// Steps the dynamics once per recorded step with the given filter, compares every hidden row
/// with darnax's (a unit may differ only where darnax's field is within `FLIP_FIELD` of 0), and
/// puts darnax's state back before the next step. Returns the tolerated flips.
fn follow(
    net: &Network,
    s: &mut State,
    steps: &Value,
    filters: &[Filter],
    rescale: Option<(f64, f64)>,
    what: &str,
) -> usize {
    let steps = steps.as_array().unwrap_or_else(|| panic!("{what}: steps is a list"));
    assert_eq!(steps.len(), filters.len(), "{what}: recorded steps against the engine's schedule");
    let hidden: Vec<i64> = (1..net.sizes.len() as i64 - 1).collect();
    let mut flips = 0;
    for (k, (step, &filter)) in steps.iter().zip(filters).enumerate() {
        let here = format!("{what} step {k} ({} {})", text(at(step, &["phase"])), text(at(step, &["filter"])));
        let recorded = match text(at(step, &["filter"])) {
            "all" => Filter::All,
            "forward" => Filter::Forward,
            other => panic!("{here}: unknown filter `{other}`"),
        };
        assert_eq!(filter, recorded, "{here}: the engine's schedule (left) against darnax's (right)");
        assert_eq!(ints(at(step, &["updated_rows"]), &here), hidden, "{here}: darnax updates every hidden row");
        assert_eq!(hidden, [1], "{here}: the fixture's networks have one hidden row");
        let field = array(at(step, &["fields", "1"]), &here);
        assert_close(
            &format!("{here}: row 1's field (recomputed from the engine's weights)"),
            &hidden_field(net, &s.rows, filter, rescale),
            &field,
            TOLERANCE,
            true,
        );
        let before: Vec<Tensor> = s.rows.iter().map(Tensor::copy).collect();
        net.step(s, filter);
        for r in [0, 2] {
            assert_close(&format!("{here}: row {r} is left alone"), &s.rows[r], &before[r], 0.0, false);
        }
        let expected = array(at(step, &["state", "1"]), &here);
        flips += compare_binary(&format!("{here}: row 1"), &s.rows[1], &expected, &field);
        s.rows[1] = expected;
    }
    flips
}

/// Row 1's field as darnax sums it, `((x W) + s J) + f(y) B`, from the engine's weights and the
/// state before the step (`f` the fixture's feedback rescaling, if any).
fn hidden_field(net: &Network, rows: &[Tensor], filter: Filter, rescale: Option<(f64, f64)>) -> Tensor {
    let mut h = rows[0].matmul(&net.w[1]) + rows[1].matmul(&net.j[1]);
    if filter == Filter::All {
        let above = match rescale {
            Some((a, b)) => &rows[2] * a + b,
            None => rows[2].shallow_clone(),
        };
        h += above.matmul(&net.b[1]);
    }
    h
}

fn check_initial_state(s: &State, recorded: &Value, rows: &[usize], what: &str) {
    let recorded = arrays(recorded, &format!("{what}.initial_state"));
    assert_eq!(s.rows.len(), recorded.len(), "{what}: rows in the state");
    for &r in rows {
        assert_close(&format!("{what}: initial row {r}"), &s.rows[r], &recorded[r], 0.0, false);
    }
}

/// The trained variables against darnax's within `TOLERANCE`, the others unchanged since `before`.
fn check_params(
    vs: &VarStore,
    before: &HashMap<String, Tensor>,
    expected: &Value,
    trained: &BTreeSet<String>,
    what: &str,
) {
    let expected = object(expected, what);
    let vars = vs.variables();
    let mut seen = BTreeSet::new();
    for (key, value) in expected {
        let var = engine_name(key, what);
        assert_close(&format!("{what}: {var} (darnax {key})"), &vars[var], &array(value, key), TOLERANCE, false);
        seen.insert(var.to_string());
    }
    assert_eq!(&seen, trained, "{what}: recorded for exactly the trained parameters");
    for (var, value) in &vars {
        if !trained.contains(var) {
            assert_close(&format!("{what}: untrained {var} is unchanged"), value, &before[var], 0.0, false);
        }
    }
}

/// The decay alone, on darnax's own stepped weights: the result must be darnax's to float32
/// rounding, tight enough to see the recurrent decay (a relative change of ~4e-7).
fn check_decay_alone(case: &Value, model: &BionetConfig, name: &str) {
    let (vs, net) = network_from_fixture(case, model, name);
    let train = at(case, &["train"]);
    let vars = vs.variables();
    for (key, value) in object(at(train, &["params_after"]), name) {
        tch::no_grad(|| vars[engine_name(key, name)].shallow_clone().copy_(&array(value, key)));
    }
    net.decay(|_| true);
    for (key, value) in object(at(train, &["params_after_decay"]), name) {
        let var = engine_name(key, name);
        let expected = array(value, key);
        let ours = &vars[var];
        let a: Vec<f32> = flat(ours);
        let b: Vec<f32> = flat(&expected);
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            // One float32 rounding of each side at most.
            let bound = 1.5 * f32::EPSILON as f64 * (*q as f64).abs();
            assert!(
                ((*p as f64) - (*q as f64)).abs() <= bound,
                "{name}: decay of darnax's params_after: {var}{:?} is {p:e}, darnax {q:e}",
                unravel(i, &expected.size())
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The fixture as engine settings

fn load_case(name: &str) -> Value {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("fixtures/bionet_parity.json is JSON");
    let cases = at(&fixture, &["cases"]).as_array().expect("the fixture's cases are a list");
    let names: Vec<&str> = cases.iter().map(|c| text(at(c, &["name"]))).collect();
    cases
        .iter()
        .find(|c| text(at(c, &["name"])) == name)
        .unwrap_or_else(|| panic!("the fixture has no case `{name}` (it has {names:?})"))
        .clone()
}

/// darnax's layer map `{(1,0) input edge, (1,1) recurrent, (1,2) feedback, (2,1) readout, (2,2)
/// output}` as the engine's config.
fn model_config(case: &Value, name: &str) -> BionetConfig {
    let sizes: Vec<i64> = ints(at(case, &["sizes"]), name);
    assert_eq!(sizes.len(), 3, "{name}: the cases are input, one hidden row, output");
    let map = at(case, &["layer_map"]).as_array().unwrap_or_else(|| panic!("{name}: layer_map is a list"));
    let edges: BTreeSet<(i64, i64)> = map.iter().map(|e| (int(at(e, &["row"])), int(at(e, &["col"])))).collect();
    assert_eq!(
        edges,
        BTreeSet::from([(1, 0), (1, 1), (1, 2), (2, 1), (2, 2)]),
        "{name}: the layer map is the engine's chain"
    );
    let edge =
        |row: i64, col: i64| map.iter().find(|e| int(at(e, &["row"])) == row && int(at(e, &["col"])) == col).unwrap();
    let optimizer = at(case, &["train", "optimizer"]);
    let lr = |key: &str| optimizer.get("lr").and_then(Value::as_object).map(|lrs| number(&lrs[key]));
    let decay = |key: &str| optimizer.get("decay_after_step").map_or(0.0, |d| number(at(d, &[key, "rescaling"])));
    let trained = |e: &Value, key: &str| {
        assert!(at(e, &["trainable"]).as_bool().unwrap(), "{name}: darnax trains {key}");
        assert_eq!(text(at(e, &["trainable_param"])), key, "{name}: edge {key}");
    };

    let e = edge(1, 0);
    let kind = text(at(e, &["kind"]));
    trained(e, "1,0/W");
    let sparsity = match kind {
        "FullyConnected" => 0.0,
        "SparseFullyConnected" => number(at(e, &["sparsity"])),
        other => panic!("{name}: input edge of kind {other}"),
    };
    let input_edge = EdgeConfig {
        strength: number(at(e, &["strength"])),
        threshold: number(at(e, &["threshold"])),
        sparsity,
        learning_rate: lr("1,0/W"),
        decay: decay("1,0/W"),
    };

    let e = edge(1, 1);
    trained(e, "1,1/J");
    assert_eq!(int(at(e, &["features"])), sizes[1], "{name}: recurrent width");
    let sparsity = match text(at(e, &["kind"])) {
        "RecurrentDiscrete" => 0.0,
        "SparseRecurrentDiscrete" => number(at(e, &["sparsity"])),
        other => panic!("{name}: recurrent edge of kind {other}"),
    };
    let recurrent = RecurrentConfig {
        j_d: number(at(e, &["j_d"])),
        strength: number(at(e, &["strength"])),
        threshold: number(at(e, &["threshold"])),
        sparsity,
        learning_rate: lr("1,1/J"),
        decay: decay("1,1/J"),
    };

    let e = edge(1, 2);
    assert!(!at(e, &["trainable"]).as_bool().unwrap(), "{name}: darnax's feedback is frozen");
    let rescaled = match text(at(e, &["kind"])) {
        "FrozenFullyConnected" => false,
        "FrozenRescaledFullyConnected" => true,
        other => panic!("{name}: feedback edge of kind {other}"),
    };
    let feedback = FeedbackConfig { strength: number(at(e, &["strength"])), rescaled };

    let e = edge(2, 1);
    trained(e, "2,1/W");
    assert_eq!(text(at(e, &["kind"])), "FullyConnected", "{name}: readout kind");
    let readout = EdgeConfig {
        strength: number(at(e, &["strength"])),
        threshold: number(at(e, &["threshold"])),
        sparsity: 0.0,
        learning_rate: lr("2,1/W"),
        decay: decay("2,1/W"),
    };
    assert_eq!(text(at(edge(2, 2), &["kind"])), "OutputLayer", "{name}: the last row is darnax's output layer");

    let encoding = text(at(case, &["labels", "encoding"]));
    let labels = if encoding.starts_with("pm1") {
        LabelEncoding::Pm1
    } else if encoding.starts_with("c-rescale") {
        LabelEncoding::CRescale
    } else {
        panic!("{name}: label encoding `{encoding}`")
    };
    BionetConfig { layers: sizes, labels, input_edge, recurrent, feedback, readout, dynamics: dynamics(case, name) }
}

/// darnax's schedules as the engine's: training is [warmup forward] clamped-all free-forward,
/// evaluation the same warmup then forward steps.
fn dynamics(case: &Value, name: &str) -> DynamicsConfig {
    let phases = |path: &[&str]| -> Vec<(String, String, usize)> {
        at(case, path)
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {path:?} is a list"))
            .iter()
            .map(|p| {
                let steps = int(at(p, &["steps"])) as usize;
                (text(at(p, &["phase"])).to_string(), text(at(p, &["filter"])).to_string(), steps)
            })
            .collect()
    };
    let mut d = DynamicsConfig { warmup_steps: 0, clamped_steps: 0, free_steps: 0, eval_steps: 0 };
    let train = phases(&["train", "schedule"]);
    let mut seen = Vec::new();
    for (phase, filter, n) in &train {
        let slot = match (phase.as_str(), filter.as_str()) {
            ("warmup", "forward") => &mut d.warmup_steps,
            ("clamped", "all") => &mut d.clamped_steps,
            ("free", "forward") => &mut d.free_steps,
            other => panic!("{name}: training phase {other:?} is not one the engine has"),
        };
        *slot = *n;
        seen.push(phase.as_str());
    }
    let order = ["warmup", "clamped", "free"];
    assert!(
        seen.windows(2).all(|w| order.iter().position(|p| *p == w[0]) < order.iter().position(|p| *p == w[1])),
        "{name}: training phases {seen:?} are in the engine's order {order:?}"
    );
    let eval = phases(&["eval", "schedule"]);
    let mut warmup = 0;
    for (phase, filter, n) in &eval {
        match (phase.as_str(), filter.as_str()) {
            ("warmup", "forward") => warmup = *n,
            ("eval", "forward") => d.eval_steps = *n,
            other => panic!("{name}: evaluation phase {other:?} is not one the engine has"),
        }
    }
    assert_eq!(warmup, d.warmup_steps, "{name}: the engine warms up the same in training and evaluation");
    d
}

/// The feedback's rescaling `(a, b)` as darnax records it (checked against the formula).
fn feedback_rescale(case: &Value, name: &str) -> Option<(f64, f64)> {
    let map = at(case, &["layer_map"]).as_array().unwrap();
    let e = map.iter().find(|e| int(at(e, &["row"])) == 1 && int(at(e, &["col"])) == 2).unwrap();
    if text(at(e, &["kind"])) != "FrozenRescaledFullyConnected" {
        return None;
    }
    let (a, b) = (number(at(e, &["rescale_a"])), number(at(e, &["rescale_b"])));
    let r = ((int(at(e, &["in_features"])) - 1) as f64).sqrt();
    assert!((a - (r / 2.0 + 1.0 / r) / 2.0).abs() < 1e-12, "{name}: rescale_a");
    assert!((b - (r / 2.0 - 1.0 / r) / 2.0).abs() < 1e-12, "{name}: rescale_b");
    Some((a, b))
}

/// The clamped labels are what the engine's encoding makes of the class ids.
fn check_labels(case: &Value, model: &BionetConfig, y: &Tensor, name: &str) {
    let ids = Tensor::from_slice(&ints(at(case, &["labels", "class_ids"]), name));
    let classes = *model.layers.last().unwrap();
    let ours = encode_labels(&ids, classes, model.labels);
    assert_close(&format!("{name}: labels encoded {:?}", model.labels), &ours, y, 1e-6, false);
}

/// A network built from `model` on the CPU, every variable then overwritten with darnax's
/// initial parameters; the settings darnax keeps as leaves must agree with the config.
fn network_from_fixture(case: &Value, model: &BionetConfig, name: &str) -> (VarStore, Network) {
    let vs = VarStore::new(Device::Cpu);
    let net = network::build(&vs, model, 0);
    let init = object(at(case, &["params_init"]), &format!("{name}: params_init"));
    let vars = vs.variables();
    let mut loaded = BTreeSet::new();
    for (key, value) in init {
        let Some(var) = variable(key) else { continue };
        let target = vars.get(var).unwrap_or_else(|| {
            panic!("{name}: darnax has {key}, the engine built no `{var}` (it has {:?})", vars.keys())
        });
        let value = array(value, key);
        assert_eq!(target.size(), value.size(), "{name}: shape of {var} (darnax {key})");
        tch::no_grad(|| target.shallow_clone().copy_(&value));
        loaded.insert(var);
    }
    for (var, value) in &vars {
        if loaded.contains(var.as_str()) {
            continue;
        }
        // darnax's dense recurrent mask is `1 - I`, not a parameter of its own.
        assert_eq!(var, "j_1_mask", "{name}: the engine's `{var}` has no counterpart in darnax");
        let n = value.size()[0];
        let dense = Tensor::ones([n, n], (Kind::Float, Device::Cpu)) - Tensor::eye(n, (Kind::Float, Device::Cpu));
        assert_close(&format!("{name}: the engine's dense j_1_mask is 1 - I"), value, &dense, 0.0, false);
    }
    let leaf = |key: &str| array(&init[key], key);
    let settings = [
        ("1,0/threshold", model.input_edge.threshold),
        ("1,1/threshold", model.recurrent.threshold),
        ("2,1/threshold", model.readout.threshold),
        ("1,1/J_D", model.recurrent.j_d),
    ];
    for (key, value) in settings {
        let ours = Tensor::full(leaf(key).size(), value, (Kind::Float, Device::Cpu));
        assert_close(&format!("{name}: the config's {value} is darnax's {key}"), &ours, &leaf(key), 0.0, false);
    }
    assert_close(&format!("{name}: J's diagonal is J_D"), &vars["j_1"].diagonal(0, 0, 1), &leaf("1,1/J_D"), 0.0, false);
    for (var, mask) in [("w_1", "w_1_mask"), ("j_1", "j_1_mask")] {
        if let Some(m) = vars.get(mask) {
            // J's diagonal holds j_d although its mask is 0 there.
            let keep = if var == "j_1" { m + Tensor::eye(m.size()[0], (Kind::Float, Device::Cpu)) } else { m.copy() };
            let outside = &vars[var] * (1.0 - keep);
            assert_close(&format!("{name}: {var} is 0 where {mask} is"), &outside, &outside.zeros_like(), 0.0, false);
        }
    }
    (vs, net)
}

fn engine_name(key: &str, what: &str) -> &'static str {
    variable(key).unwrap_or_else(|| panic!("{what}: `{key}` is not a parameter the engine has"))
}

/// darnax's optimizer as the engine's: Adam (AdamW without decay), or SGD at each edge's rate.
fn training_config(case: &Value, name: &str) -> TrainingConfig {
    let o = at(case, &["train", "optimizer"]);
    match text(at(o, &["type"])) {
        "adam" => {
            assert_eq!(number(at(o, &["eps_root"])), 0.0, "{name}: the engine's Adam has no eps_root");
            assert_eq!(int(at(o, &["step"])), 1, "{name}: the recorded Adam step is the first");
            TrainingConfig {
                optimizer: OptimizerKind::Adamw,
                learning_rate: number(at(o, &["lr"])),
                weight_decay: 0.0,
                adam_beta1: number(at(o, &["b1"])),
                adam_beta2: number(at(o, &["b2"])),
                adam_eps: number(at(o, &["eps"])),
                ..TrainingConfig::default()
            }
        }
        "multi_transform(sgd)" => {
            assert_eq!(number(at(o, &["lr", "default"])), 0.0, "{name}: darnax leaves the other leaves alone");
            TrainingConfig {
                optimizer: OptimizerKind::Sgd,
                learning_rate: 1.0,
                weight_decay: 0.0,
                ..TrainingConfig::default()
            }
        }
        other => panic!("{name}: optimizer `{other}`"),
    }
}

/// The bionet task's optimizer: one group per trained edge at its own rate (else the run's).
fn optimizer(vs: &VarStore, net: &Network, training: &TrainingConfig) -> Optimizer {
    let vars = vs.variables();
    let groups = net.learning_rates().into_iter().map(|(name, lr)| ParamGroup {
        params: vec![(name.clone(), vars[&name].shallow_clone())],
        lr_scale: lr.map_or(1.0, |lr| lr / training.learning_rate),
        weight_decay: 0.0,
    });
    Optimizer::with_groups(groups, training)
}

// ---------------------------------------------------------------------------------------------
// JSON and comparisons

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut here = v;
    for (i, key) in path.iter().enumerate() {
        here = here.get(key).unwrap_or_else(|| panic!("the fixture has no {:?}", &path[..=i]));
    }
    here
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, found {v}"))
}

fn number(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("expected a number, found {v}"))
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("expected an integer, found {v}"))
}

fn ints(v: &Value, what: &str) -> Vec<i64> {
    v.as_array().unwrap_or_else(|| panic!("{what}: expected a list, found {v}")).iter().map(int).collect()
}

fn object<'a>(v: &'a Value, what: &str) -> &'a serde_json::Map<String, Value> {
    v.as_object().unwrap_or_else(|| panic!("{what}: expected an object"))
}

/// `{shape, data}`, row-major float32.
fn array(v: &Value, what: &str) -> Tensor {
    let shape = ints(at(v, &["shape"]), what);
    let data: Vec<f32> = at(v, &["data"])
        .as_array()
        .unwrap_or_else(|| panic!("{what}: data is a list"))
        .iter()
        .map(|d| number(d) as f32)
        .collect();
    assert_eq!(data.len() as i64, shape.iter().product::<i64>(), "{what}: data against shape {shape:?}");
    Tensor::from_slice(&data).view(shape.as_slice())
}

fn arrays(v: &Value, what: &str) -> Vec<Tensor> {
    v.as_array().unwrap_or_else(|| panic!("{what}: expected a list")).iter().map(|a| array(a, what)).collect()
}

fn flat(t: &Tensor) -> Vec<f32> {
    Vec::try_from(&t.to_kind(Kind::Float).contiguous().view([-1])).unwrap()
}

fn unravel(mut i: usize, shape: &[i64]) -> Vec<usize> {
    let mut out = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        out[d] = i % n as usize;
        i /= n as usize;
    }
    out
}

/// Every value within `tol` (times max(1, |darnax's|) when `relative`); NaN never is.
fn assert_close(what: &str, ours: &Tensor, theirs: &Tensor, tol: f64, relative: bool) {
    assert_eq!(ours.size(), theirs.size(), "{what}: shape (ours left, darnax's right)");
    let (a, b) = (flat(ours), flat(theirs));
    let shape = theirs.size();
    let mut bad = Vec::new();
    let mut worst = 0.0f64;
    for (i, (&p, &q)) in a.iter().zip(&b).enumerate() {
        let (p, q) = (p as f64, q as f64);
        let bound = if relative { tol * q.abs().max(1.0) } else { tol };
        let diff = (p - q).abs();
        if diff.is_nan() || diff > bound {
            bad.push(format!("{:?}: ours {p:e}, darnax {q:e}", unravel(i, &shape)));
        }
        if diff > worst || diff.is_nan() {
            worst = diff;
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {} values differ by more than {tol:e}{} (worst |diff| {worst:e}); first: {}",
        bad.len(),
        a.len(),
        if relative { " x max(1, |value|)" } else { "" },
        bad.iter().take(8).cloned().collect::<Vec<_>>().join("; ")
    );
}

/// Two ±1 rows, equal everywhere.
fn assert_binary_equal(what: &str, ours: &Tensor, theirs: &Tensor) {
    assert_close(what, ours, theirs, 0.0, false);
}

/// Our ±1 row against darnax's: a unit may differ only where darnax's |field| < `FLIP_FIELD`.
/// Returns how many did.
fn compare_binary(what: &str, ours: &Tensor, theirs: &Tensor, field: &Tensor) -> usize {
    assert_eq!(ours.size(), theirs.size(), "{what}: shape (ours left, darnax's right)");
    let shape = theirs.size();
    let (a, b, h) = (flat(ours), flat(theirs), flat(field));
    let mut flips = 0;
    let mut bad = Vec::new();
    for (i, ((&p, &q), &f)) in a.iter().zip(&b).zip(&h).enumerate() {
        assert!(p == 1.0 || p == -1.0, "{what}: unit {:?} is {p}, not ±1", unravel(i, &shape));
        if p != q {
            if (f as f64).abs() < FLIP_FIELD {
                flips += 1;
            } else {
                bad.push(format!("{:?}: ours {p}, darnax {q}, darnax's field {f:e}", unravel(i, &shape)));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{what}: {} of {} units differ where darnax's |field| >= {FLIP_FIELD:e}: {}",
        bad.len(),
        a.len(),
        bad.iter().take(8).cloned().collect::<Vec<_>>().join("; ")
    );
    flips
}
