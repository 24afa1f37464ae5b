//! Prefix viability ([`tat_core::wgsl::prefix`]) on real answers: every prefix of every dataset
//! example and of every naga-valid corpus shader must stay alive (soundness), the whole text must
//! be complete, broken answers must die early, and a check must be fast.

use std::path::{Path, PathBuf};
use std::time::Instant;

use tat_core::data::wgsl::load_examples;
use tat_core::tokenizer::pieces;
use tat_core::wgsl::prefix::{check_prefix, check_prefix_free, Goal, Viability};
use tat_core::wgsl::{module_outline, snippet_shape, validate_module, SnippetShape};

/// `TAT_PREFIX_EVERY_CHAR=1` checks the prefix at every char boundary of every example and
/// corpus shader, not just at the tokenizer's piece boundaries (slower: some seconds).
fn every_char() -> bool {
    std::env::var("TAT_PREFIX_EVERY_CHAR").as_deref() == Ok("1")
}

fn char_ends(code: &str) -> Vec<usize> {
    (0..=code.len()).filter(|&e| code.is_char_boundary(e)).collect()
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative)
}

/// The goal an answer is checked against, and whether names are scope-checked: a module naga
/// parses is checked as one; module-shaped snippets with free names (which the snippet harness
/// declares) are checked without the scope rule.
fn goal_of(code: &str) -> (Goal, bool) {
    if module_outline(code).is_some() {
        return (Goal::Module, true);
    }
    match snippet_shape(code) {
        SnippetShape::Declarations => (Goal::Module, false),
        SnippetShape::Statements => (Goal::Statements, true),
        SnippetShape::Expression => (Goal::Expression, true),
    }
}

fn check(text: &str, goal: Goal, scoped: bool) -> Viability {
    if scoped {
        check_prefix(text, goal)
    } else {
        check_prefix_free(text, goal)
    }
}

/// Ends of the prefixes at the tokenizer's piece boundaries (the empty prefix included).
fn piece_ends(code: &str) -> Vec<usize> {
    let mut ends = vec![0];
    let mut at = 0;
    for piece in pieces(code) {
        at += piece.len();
        ends.push(at);
    }
    ends
}

/// The first prefix (of those ending at `ends`) found dead, if any.
fn first_dead(code: &str, goal: Goal, scoped: bool, ends: &[usize]) -> Option<usize> {
    ends.iter().copied().find(|&end| check(&code[..end], goal, scoped) == Viability::Dead)
}

/// `code` around byte `at`, on one line, with `⟂` where the dead prefix ends.
fn around(code: &str, at: usize) -> String {
    let floor = |mut i: usize| {
        while !code.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(at.saturating_sub(60));
    let end = floor((at + 30).min(code.len()));
    format!("{}⟂{}", &code[start..at], &code[at..end]).replace('\n', "⏎")
}

#[test]
fn every_prefix_of_every_dataset_example_stays_alive() {
    let mut failures = Vec::new();
    let (mut checked, mut prefixes) = (0, 0);
    let mut per_goal = std::collections::BTreeMap::new();
    for file in ["config/wgsl_generalise_data.toml", "config/wgsl_training_data.toml"] {
        let examples = load_examples(&repo_path(file)).expect("the dataset loads");
        for (i, example) in examples.iter().enumerate() {
            let code = example.wgsl_code.as_str();
            let (goal, scoped) = goal_of(code);
            *per_goal.entry(format!("{goal:?}{}", if scoped { "" } else { " (free names)" })).or_insert(0) += 1;
            let mut ends = piece_ends(code);
            // Every char boundary for a sample of the examples.
            if i % 7 == 0 || every_char() {
                ends = char_ends(code);
            }
            prefixes += ends.len();
            checked += 1;
            if let Some(end) = first_dead(code, goal, scoped, &ends) {
                failures.push(format!("{file} #{i} ({goal:?}): dead at byte {end}: {}", around(code, end)));
            } else if check(code, goal, scoped) != Viability::Complete {
                failures
                    .push(format!("{file} #{i} ({goal:?}): whole code is {:?}: {code:?}", check(code, goal, scoped)));
            }
        }
    }
    println!("{checked} examples, {prefixes} prefixes checked; goals: {per_goal:?}");
    for failure in failures.iter().take(30) {
        println!("{failure}");
    }
    assert!(failures.is_empty(), "{} of {checked} examples fail", failures.len());
}

fn corpus_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            corpus_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            out.push(path);
        }
    }
}

#[test]
fn every_prefix_of_every_valid_corpus_shader_stays_alive() {
    let corpus = repo_path("../shared/data/wgsl-corpus");
    if !corpus.is_dir() {
        assert!(
            std::env::var("TAT_REQUIRE_DATA").as_deref() != Ok("1"),
            "TAT_REQUIRE_DATA=1 and the corpus is missing: {}",
            corpus.display()
        );
        println!("skipped: no WGSL corpus at {}", corpus.display());
        return;
    }
    let mut files = Vec::new();
    corpus_files(&corpus, &mut files);
    let (mut valid, mut passed) = (0, 0);
    let mut failures = Vec::new();
    let started = Instant::now();
    for path in &files {
        let Ok(code) = std::fs::read_to_string(path) else { continue };
        if !validate_module(&code).is_empty() {
            continue;
        }
        valid += 1;
        let name = path.strip_prefix(&corpus).unwrap_or(path).display().to_string();
        let whole = check_prefix(&code, Goal::Module);
        let ends = if every_char() { char_ends(&code) } else { piece_ends(&code) };
        if let Some(end) = first_dead(&code, Goal::Module, true, &ends) {
            failures.push(format!("{name}: dead at byte {end}: {}", around(&code, end)));
        } else if whole != Viability::Complete {
            failures.push(format!("{name}: whole shader is {whole:?}"));
        } else {
            passed += 1;
        }
    }
    println!(
        "corpus: {passed} of {valid} naga-valid shaders pass ({:.1}%), {} files in all, {:.1} s",
        100.0 * passed as f64 / valid.max(1) as f64,
        files.len(),
        started.elapsed().as_secs_f64()
    );
    for failure in &failures {
        println!("  {failure}");
    }
    assert!(valid > 0, "no corpus shader passes naga");
    assert!(passed * 10 >= valid * 9, "{passed} of {valid} pass; at least 90% must");
}

#[test]
fn broken_answers_die_at_or_before_the_break() {
    // (goal, answer, the text by whose end the answer must be dead)
    let fragment = "@fragment fn main(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> {";
    let cases: Vec<(Goal, String, &str)> = vec![
        (Goal::Module, format!("{fragment} let color = mix(vec3<f32>(1.0, / 0.0, 0.0), uv.x); }}"), "/ "),
        (Goal::Module, "fn main() -> { return; }".into(), "-> {"),
        (Goal::Module, "let x = 1.0;".into(), "let "),
        (Goal::Module, "vec3<f32>(1.0, 0.0, 0.0)".into(), "vec3<"),
        (Goal::Module, "fn f() -> f32 -> f32 { return 1.0; }".into(), "f32 ->"),
        (Goal::Module, "struct In { @location(; }".into(), "(;"),
        (Goal::Module, format!("{fragment} return vec4<f32>(uv, 0.0, 1.0)); }}"), "1.0))"),
        (Goal::Module, format!("{fragment} return vec4<f32>(colr, 1.0); }}"), "colr,"),
        (Goal::Module, format!("{fragment} let c = uv * ; }}"), "* ;"),
        (
            Goal::Module,
            "@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id vec3<u32>) {}".into(),
            "id vec3",
        ),
        (Goal::Module, "@vertex fn main() -> @builtin(position) vec4<f32> { return vec4<f32>(0.0); } }".into(), "} }"),
        (Goal::Module, "struct S { a: f32; b: f32 }".into(), "f32;"),
        (Goal::Module, "fn f() { if x > 1.0 { } }".into(), "x >"),
        (Goal::Module, "fn f() { for (var i = 0; i < 4; i++ { } }".into(), "++ {"),
        (Goal::Module, "@group(0) @binding(0) var<uniforms> u: vec4<f32>;".into(), "uniforms>"),
        (Goal::Statements, "let x = 1.0 let y = 2.0;".into(), "1.0 let"),
        (Goal::Statements, "return a + ;".into(), "+ ;"),
        (Goal::Statements, "x + 1.0;".into(), "x + "),
        (Goal::Expression, "1.0 + )".into(), ")"),
        (Goal::Expression, "normalize(v);".into(), ";"),
        (Goal::Expression, "dot(a, b) c".into(), ") c"),
    ];
    let mut failures = Vec::new();
    for (goal, answer, by) in &cases {
        let limit = answer.find(by).expect("the marker is in the answer") + by.len();
        match first_dead(answer, *goal, true, &piece_ends(answer)) {
            Some(end) if end <= limit => {}
            Some(end) => failures.push(format!("{goal:?} {answer:?}: dead only at {end}, after {limit}")),
            None => failures.push(format!("{goal:?} {answer:?}: never dead")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_check_takes_microseconds() {
    let shader = "struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@group(0) @binding(0) var t_diffuse: texture_2d<f32>;
@group(0) @binding(1) var s_diffuse: sampler;

@vertex
fn vs_main(@builtin(vertex_index) index: u32) -> VertexOutput {
    var out: VertexOutput;
    let x = f32(i32(index & 1u) * 2 - 1);
    let y = f32(i32(index >> 1u) * 2 - 1);
    out.position = vec4<f32>(x, y, 0.0, 1.0);
    out.uv = vec2<f32>(x, -y) * 0.5 + 0.5;
    return out;
}

@fragment
fn fs_main(in: VertexOutput) -> @location(0) vec4<f32> {
    let color = textureSample(t_diffuse, s_diffuse, in.uv);
    let gray = dot(color.rgb, vec3<f32>(0.299, 0.587, 0.114));
    return vec4<f32>(mix(color.rgb, vec3<f32>(gray), 0.5), color.a);
}
";
    assert_eq!(check_prefix(shader, Goal::Module), Viability::Complete);
    let ends = piece_ends(shader);
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for &end in &ends {
            std::hint::black_box(check_prefix(std::hint::black_box(&shader[..end]), Goal::Module));
        }
    }
    let per_prefix = started.elapsed().as_secs_f64() * 1e6 / (rounds * ends.len()) as f64;
    let started = Instant::now();
    for _ in 0..rounds * 50 {
        std::hint::black_box(check_prefix(std::hint::black_box(shader), Goal::Module));
    }
    let whole = started.elapsed().as_secs_f64() * 1e6 / (rounds * 50) as f64;
    println!(
        "{}-char module: {whole:.1} µs per check of the whole text, {per_prefix:.1} µs per check averaged over its {} prefixes",
        shader.len(),
        ends.len()
    );
}
