//! A seeded procedural generator of natural-language/WGSL pairs whose held-out splits measure
//! generalisation (new combinations of known parts) rather than recall.
//!
//! Pairs are composed per *intent*: a family of requests that share one code shape, such as "a
//! fragment shader that outputs a solid color". An intent has *slots* (color and alpha; built-in
//! and argument; compute operation, workgroup size and binding) and a few paraphrase *templates*.
//! One *combination* of slot values gives one piece of code and one prompt per template. Every
//! name, number, color, binding and workgroup size in the code is stated by the prompt or is a
//! fixed convention of the intent (the entry point `main`, `t_diffuse`/`s_diffuse`, group 0 unless
//! the intent has a group slot), so paraphrases map to the same code and exact match is fair.
//! Numbers come from small fixed sets of literals written the same way in prompt and code
//! (`0.25`, `2.0`), so that a model can copy them.
//!
//! The split holds out whole combinations. For each intent, the seed and the intent's name pick
//! a shuffle of its combinations; walking it, a combination goes to `test` (until 10% of the
//! intent's combinations are there), then to `val` (5%), but only if each of its slot values
//! remains in some other combination of the intent that stays in `train`; the rest is `train`.
//! All paraphrases of a combination share its split. So a test pair asks for a pairing never
//! trained on (say a teal circle of radius 0.3), built from values and templates that all were
//! (teal in other shaders, radius 0.3 in other circles, each template with other values).
//! [`generate_pairs`] exposes each pair's intent, slot values and template so tests can check this.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::data::wgsl::{check_examples, load_examples, Example, Split};
use crate::error::{Result, TatError};
use crate::rng::SplitMix64;

mod broad;
mod phrasing;

/// The share of each intent's combinations held out for `test`, and for `val`.
const TEST_SHARE: f64 = 0.10;
const VAL_SHARE: f64 = 0.05;
/// The stream the broad dataset's rewrites are drawn from (with each intent's name), fixed so
/// that the split seed moves only the split.
const REPHRASE_SEED: u64 = 0x7068_7261_7365;

/// A generated example with where it came from.
#[derive(Debug, Clone)]
pub struct Pair {
    pub example: Example,
    /// The family of requests, e.g. `fragment_solid`.
    pub intent: &'static str,
    /// `(slot, value)` in the intent's slot order, e.g. `[("color", "red"), ("alpha", "0.5")]`.
    pub slots: Vec<(&'static str, String)>,
    /// The paraphrase template the prompt was filled from.
    pub template: &'static str,
}

impl Pair {
    /// The held-out unit: the intent and all its slot values, e.g. `fragment_solid(color=red, alpha=0.5)`.
    pub fn combination(&self) -> String {
        let values: Vec<String> = self.slots.iter().map(|(slot, value)| format!("{slot}={value}")).collect();
        format!("{}({})", self.intent, values.join(", "))
    }
}

/// Which dataset the generator makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variety {
    /// The template intents with a few fixed paraphrases each (`config/wgsl_generalise_data.toml`).
    Templates,
    /// The template intents and the [`broad`] ones (functions, structs, bindings, statements,
    /// modules around a quoted snippet, shaders asked for without every detail), each prompt
    /// also rewritten [`REWRITES`] times the way people type ([`phrasing`]):
    /// `config/wgsl_broad_data.toml`. The template intents keep their splits, so the template
    /// set's test split is part of this one's test split and never trained on.
    Broad,
}

impl Variety {
    /// The `generate-data` flag that selects it.
    pub fn flag(self) -> &'static str {
        match self {
            Variety::Templates => "",
            Variety::Broad => " --broad",
        }
    }
}

/// How many rewrites of each templated prompt the broad dataset adds.
pub const REWRITES: usize = 2;
/// A templated shader request is also asked without its shader named ([`phrasing::unnamed`]:
/// "Fill the screen with red"), as it is and rewritten this many times.
const UNNAMED_REWRITES: usize = 1;

/// Every generated example of the template set, each with its split; the same seed gives the
/// same list.
pub fn generate(seed: u64) -> Vec<Example> {
    generate_with(seed, Variety::Templates)
}

/// [`generate`] with each example's intent, slot values and template.
pub fn generate_pairs(seed: u64) -> Vec<Pair> {
    generate_pairs_with(seed, Variety::Templates)
}

/// The examples of either dataset.
pub fn generate_with(seed: u64, variety: Variety) -> Vec<Example> {
    generate_pairs_with(seed, variety).into_iter().map(|pair| pair.example).collect()
}

/// [`generate_with`] with each example's intent, slot values and template (a rewrite keeps the
/// template it was rewritten from).
pub fn generate_pairs_with(seed: u64, variety: Variety) -> Vec<Pair> {
    let mut all = intents();
    if variety == Variety::Broad {
        all.extend(broad::intents());
        let mut seen: HashSet<String> =
            all.iter().flat_map(|i| &i.combinations).flat_map(|c| &c.prompts).map(|(_, p)| p.clone()).collect();
        for intent in &mut all {
            intent.rephrase(&mut seen);
        }
    }
    all.iter().flat_map(|intent| intent.pairs(seed)).collect()
}

/// The examples as a dataset file that [`load_examples`] reads back unchanged.
pub fn render_toml(examples: &[Example], seed: u64, variety: Variety) -> String {
    let mut out = header(examples, seed, variety);
    let mut category = "";
    for example in examples {
        if example.category != category {
            category = &example.category;
            out.push_str(&format!("\n# --- {category} {}\n", "-".repeat(90usize.saturating_sub(category.len()))));
        }
        out.push_str("\n[[examples]]\n");
        out.push_str(&format!("natural_language = {}\n", basic_string(&example.natural_language)));
        out.push_str(&format!("wgsl_code = {}\n", code_string(&example.wgsl_code)));
        out.push_str(&format!("category = {}\n", basic_string(&example.category)));
        if let Some(split) = example.split {
            out.push_str(&format!("split = \"{}\"\n", split.name()));
        }
    }
    out
}

/// Writes [`render_toml`] to `path` atomically: every example is checked with naga, the text goes
/// into `<path>.tmp`, is checked to load back as `examples`, and is renamed over `path`; so a
/// failure never leaves half a dataset, or one that training would reject.
pub fn write_dataset(path: &Path, examples: &[Example], seed: u64, variety: Variety) -> Result<()> {
    check_examples(path, examples)?;
    let mut name = path
        .file_name()
        .ok_or_else(|| TatError::Usage(format!("{}: not a file name; expected e.g. data.toml", path.display())))?
        .to_os_string();
    name.push(".tmp");
    let tmp = path.with_file_name(name);
    std::fs::write(&tmp, render_toml(examples, seed, variety)).map_err(|e| TatError::io(path, e))?;
    let problem = match load_examples(&tmp) {
        Ok(loaded) if loaded == examples => None,
        Ok(_) => Some("it loads back as different examples".to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(problem) = problem {
        // Best effort: the error below is what matters.
        let _ = std::fs::remove_file(&tmp);
        return Err(TatError::Dataset(format!(
            "{}: the rendered dataset does not round-trip ({problem}); this is a bug in the generator",
            path.display()
        )));
    }
    std::fs::rename(&tmp, path).map_err(|e| TatError::io(path, e))
}

fn header(examples: &[Example], seed: u64, variety: Variety) -> String {
    let count = |split| examples.iter().filter(|e| e.split == Some(split)).count();
    let flag = variety.flag();
    format!(
        "# Generated by `tiny-agent-trainer generate-data --out <this file> --seed {seed}{flag}`\n\
         # (crates/tat-core/src/data/wgsl_generator.rs): change the generator and regenerate, do not edit.\n\
         #\n\
         # {} natural-language/WGSL pairs: {} train, {} val, {} test. Each intent (e.g. a solid-color\n\
         # fragment shader) has slots (color, alpha) and paraphrase templates; val and test hold out whole\n\
         # slot combinations, every value and template of which also appears in train.\n",
        examples.len(),
        count(Split::Train),
        count(Split::Val),
        count(Split::Test),
    )
}

/// A TOML basic string: `"..."` with quotes, backslashes and control characters escaped.
fn basic_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Multi-line code as a `'''` literal block (as the hand-written dataset has it) when it can be
/// one; anything else as a basic string.
fn code_string(code: &str) -> String {
    let literal_safe = !code.contains("'''") && !code.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    if code.contains('\n') && literal_safe {
        format!("'''\n{code}\n'''")
    } else {
        basic_string(code)
    }
}

// --- intents, combinations and the held-out split ------------------------------------------

/// A family of requests with one code shape.
struct Intent {
    name: &'static str,
    category: &'static str,
    slots: &'static [&'static str],
    combinations: Vec<Combination>,
}

struct Combination {
    values: Vec<String>,
    /// `(template, prompt)`, one per paraphrase.
    prompts: Vec<(&'static str, String)>,
    code: String,
}

impl Intent {
    fn new(name: &'static str, category: &'static str, slots: &'static [&'static str]) -> Intent {
        Intent { name, category, slots, combinations: Vec::new() }
    }

    /// One combination: its slot `values`, and the `templates` and `code` filled from `vars`.
    fn add(&mut self, values: &[&str], templates: &[&'static str], code: &str, vars: &[(&str, &str)]) {
        assert_eq!(values.len(), self.slots.len(), "intent {}: one value per slot", self.name);
        self.combinations.push(Combination {
            values: values.iter().map(|v| v.to_string()).collect(),
            prompts: templates.iter().map(|&t| (t, fill(t, vars))).collect(),
            code: fill(code, vars),
        });
    }

    fn pairs(&self, seed: u64) -> Vec<Pair> {
        let splits = self.held_out(seed);
        let mut pairs = Vec::new();
        for (combination, split) in self.combinations.iter().zip(splits) {
            let slots: Vec<(&'static str, String)> =
                self.slots.iter().copied().zip(combination.values.iter().cloned()).collect();
            for (template, prompt) in &combination.prompts {
                pairs.push(Pair {
                    example: Example {
                        natural_language: prompt.clone(),
                        wgsl_code: combination.code.clone(),
                        category: self.category.to_string(),
                        split: Some(split),
                    },
                    intent: self.name,
                    slots: slots.clone(),
                    template,
                });
            }
        }
        pairs
    }

    /// Adds [`REWRITES`] rewrites of each prompt ([`phrasing::rephrase`]) that are not in
    /// `seen`, and the prompt without its shader named with [`UNNAMED_REWRITES`] rewrites of it,
    /// keeping the slot values as they are; the rewrites depend on the intent's name, not on the
    /// split's seed.
    fn rephrase(&mut self, seen: &mut HashSet<String>) {
        let mut rng = SplitMix64::derived(REPHRASE_SEED, name_stream(self.name));
        // A stream of its own, so that the other rewrites stay as they were before unnamed ones.
        let mut unnamed_rng = SplitMix64::derived(REPHRASE_SEED + 1, name_stream(self.name));
        for combination in &mut self.combinations {
            let keep: Vec<String> =
                combination.values.iter().flat_map(|v| v.split_whitespace()).map(String::from).collect();
            let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
            let mut rewrites = Vec::new();
            for (template, prompt) in &combination.prompts {
                let mut add = |rewrite: String| {
                    if seen.insert(rewrite.clone()) {
                        rewrites.push((*template, rewrite));
                    }
                };
                phrasing::rephrase(prompt, &keep, REWRITES, &mut rng).into_iter().for_each(&mut add);
                if let Some(unnamed) = phrasing::unnamed(prompt, &keep) {
                    let rewrites = phrasing::rephrase(&unnamed, &keep, UNNAMED_REWRITES, &mut unnamed_rng);
                    add(unnamed);
                    rewrites.into_iter().for_each(&mut add);
                }
            }
            combination.prompts.extend(rewrites);
        }
    }

    /// The split of each combination (see the module doc).
    fn held_out(&self, seed: u64) -> Vec<Split> {
        let n = self.combinations.len();
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix64::derived(seed, name_stream(self.name)).shuffle(&mut order);
        let mut in_train: HashMap<(usize, &str), usize> = HashMap::new();
        for combination in &self.combinations {
            for (slot, value) in combination.values.iter().enumerate() {
                *in_train.entry((slot, value.as_str())).or_default() += 1;
            }
        }
        let share = |fraction: f64| (n as f64 * fraction).round() as usize;
        let mut quotas = [(Split::Test, share(TEST_SHARE)), (Split::Val, share(VAL_SHARE))];
        let mut splits = vec![Split::Train; n];
        for i in order {
            let Some((split, left)) = quotas.iter_mut().find(|(_, left)| *left > 0) else { break };
            let keys: Vec<(usize, &str)> =
                self.combinations[i].values.iter().enumerate().map(|(slot, v)| (slot, v.as_str())).collect();
            if keys.iter().all(|key| in_train[key] > 1) {
                for key in &keys {
                    *in_train.get_mut(key).expect("counted above") -= 1;
                }
                splits[i] = *split;
                *left -= 1;
            }
        }
        splits
    }
}

/// An RNG stream per intent (FNV-1a of its name), so that adding an intent leaves the others'
/// splits where they were.
fn name_stream(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3))
}

/// `template` with each `{key}` replaced by its value, in order: a value may hold a later key.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    vars.iter().fold(template.to_string(), |text, (key, value)| text.replace(&format!("{{{key}}}"), value))
}

fn intents() -> Vec<Intent> {
    [
        vec![named_colors(), rgb_colors(), gray_colors()],
        vec![vector2s(), vector3s(), splats(), extensions(), swizzles(), vector_arithmetic(), vector_scaling()],
        vec![unary_builtins(), vector_builtins(), binary_builtins(), clamps(), smoothsteps(), steps(), powers()],
        vec![min_max(), mixes()],
        vec![color_filters()],
        color_adjustments(),
        vec![tints(), blends()],
        vec![solid_fragments(), gradient_fragments(), circle_fragments(), pattern_fragments()],
        vec![texture_fragments(), tinted_texture_fragments(), uniform_fragments()],
        vec![vertex_positions(), vertex_matrices(), vertex_varyings(), vertex_colors()],
        vec![compute_maps(), compute_binaries(), compute_textures()],
    ]
    .into_iter()
    .flatten()
    .collect()
}

// --- colors ----------------------------------------------------------------------------------

struct Color {
    name: &'static str,
    rgb: [&'static str; 3],
}

impl Color {
    fn vec3(&self) -> String {
        format!("vec3<f32>({})", self.rgb.join(", "))
    }

    fn vec4(&self, alpha: &str) -> String {
        format!("vec4<f32>({}, {alpha})", self.rgb.join(", "))
    }

    /// "a red", "an orange".
    fn with_article(&self) -> String {
        let article = if self.name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        format!("{article} {}", self.name)
    }
}

/// The named colors, with the values the hand-written dataset gives them. The first few are the
/// ones intents that pair two colors draw from, so that pairs do not swamp the rest.
const COLORS: [Color; 20] = [
    Color { name: "red", rgb: ["1.0", "0.0", "0.0"] },
    Color { name: "green", rgb: ["0.0", "1.0", "0.0"] },
    Color { name: "blue", rgb: ["0.0", "0.0", "1.0"] },
    Color { name: "white", rgb: ["1.0", "1.0", "1.0"] },
    Color { name: "black", rgb: ["0.0", "0.0", "0.0"] },
    Color { name: "yellow", rgb: ["1.0", "1.0", "0.0"] },
    Color { name: "cyan", rgb: ["0.0", "1.0", "1.0"] },
    Color { name: "magenta", rgb: ["1.0", "0.0", "1.0"] },
    Color { name: "orange", rgb: ["1.0", "0.5", "0.0"] },
    Color { name: "purple", rgb: ["0.5", "0.0", "0.5"] },
    Color { name: "gray", rgb: ["0.5", "0.5", "0.5"] },
    Color { name: "pink", rgb: ["1.0", "0.75", "0.8"] },
    Color { name: "brown", rgb: ["0.6", "0.3", "0.1"] },
    Color { name: "gold", rgb: ["1.0", "0.84", "0.0"] },
    Color { name: "teal", rgb: ["0.0", "0.5", "0.5"] },
    Color { name: "navy", rgb: ["0.0", "0.0", "0.5"] },
    Color { name: "olive", rgb: ["0.5", "0.5", "0.0"] },
    Color { name: "maroon", rgb: ["0.5", "0.0", "0.0"] },
    Color { name: "lime", rgb: ["0.5", "1.0", "0.0"] },
    Color { name: "silver", rgb: ["0.75", "0.75", "0.75"] },
];

const RGB_TEMPLATES: [&str; 4] = [
    "Create {a_color} color",
    "Give me {color} as a vec3",
    "Write the color {color} as an RGB vector",
    "What is {color} in RGB",
];
const OPAQUE_TEMPLATES: [&str; 4] = [
    "Create an opaque {color} color with alpha",
    "Make a solid {color} RGBA color",
    "Give me {color} as a vec4 with full alpha",
    "Write the color {color} as an opaque RGBA vector",
];
const ALPHA_TEMPLATES: [&str; 4] = [
    "Make {a_color} color with alpha {alpha}",
    "Create {color} as RGBA with an alpha of {alpha}",
    "Give me {color} as a vec4 with alpha {alpha}",
    "Write the color {color} at opacity {alpha}",
];

fn named_colors() -> Intent {
    let mut intent = Intent::new("named_color", "color", &["color", "alpha"]);
    for color in &COLORS {
        let a_color = color.with_article();
        for alpha in ["rgb", "opaque", "0.5"] {
            let (templates, code) = match alpha {
                "rgb" => (RGB_TEMPLATES, color.vec3()),
                "opaque" => (OPAQUE_TEMPLATES, color.vec4("1.0")),
                _ => (ALPHA_TEMPLATES, color.vec4(alpha)),
            };
            let vars = [("a_color", a_color.as_str()), ("color", color.name), ("alpha", alpha)];
            intent.add(&[color.name, alpha], &templates, &code, &vars);
        }
    }
    intent
}

fn rgb_colors() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Create a color with red {r}, green {g} and blue {b}",
        "Make an RGB color from {r}, {g} and {b}",
        "Write a vec3 color whose channels are {r}, {g} and {b}",
    ];
    const LEVELS: [&str; 4] = ["0.0", "0.3", "0.6", "1.0"];
    let mut intent = Intent::new("rgb_color", "color", &["red", "green", "blue"]);
    for r in LEVELS {
        for g in LEVELS {
            for b in LEVELS {
                let code = format!("vec3<f32>({r}, {g}, {b})");
                intent.add(&[r, g, b], &TEMPLATES, &code, &[("r", r), ("g", g), ("b", b)]);
            }
        }
    }
    intent
}

fn gray_colors() -> Intent {
    const RGB: [&str; 3] = [
        "Create a gray color with every channel at {l}",
        "Make a gray of brightness {l}",
        "Give me a shade of gray at {l} as a vec3",
    ];
    const RGBA: [&str; 3] = [
        "Create an opaque gray color with every channel at {l}",
        "Make an RGBA gray of brightness {l}",
        "Give me a shade of gray at {l} as a vec4 with full alpha",
    ];
    let mut intent = Intent::new("gray_color", "color", &["level", "alpha"]);
    for l in ["0.1", "0.2", "0.25", "0.3", "0.4", "0.6", "0.7", "0.75", "0.8", "0.9"] {
        intent.add(&[l, "rgb"], &RGB, &format!("vec3<f32>({l}, {l}, {l})"), &[("l", l)]);
        intent.add(&[l, "opaque"], &RGBA, &format!("vec4<f32>({l}, {l}, {l}, 1.0)"), &[("l", l)]);
    }
    intent
}

// --- vectors ---------------------------------------------------------------------------------

fn vector2s() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Create a 2D vector with x {x} and y {y}",
        "Make a vec2 of ({x}, {y})",
        "Build a two component vector from {x} and {y}",
    ];
    const VALUES: [&str; 5] = ["0.0", "0.25", "0.5", "1.0", "-1.0"];
    let mut intent = Intent::new("vector2", "vector", &["x", "y"]);
    for x in VALUES {
        for y in VALUES {
            intent.add(&[x, y], &TEMPLATES, &format!("vec2<f32>({x}, {y})"), &[("x", x), ("y", y)]);
        }
    }
    intent
}

fn vector3s() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Create a 3D vector with x {x}, y {y} and z {z}",
        "Make a vec3 of ({x}, {y}, {z})",
        "Build a three component vector from {x}, {y} and {z}",
    ];
    const VALUES: [&str; 3] = ["0.0", "0.5", "1.0"];
    let mut intent = Intent::new("vector3", "vector", &["x", "y", "z"]);
    for x in VALUES {
        for y in VALUES {
            for z in VALUES {
                let code = format!("vec3<f32>({x}, {y}, {z})");
                intent.add(&[x, y, z], &TEMPLATES, &code, &[("x", x), ("y", y), ("z", z)]);
            }
        }
    }
    intent
}

fn splats() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Create a {n}D vector with every component equal to {s}",
        "Splat {s} into a vec{n}",
        "Make a vec{n} filled with {s}",
        "Fill all {n} components of a vector with {s}",
    ];
    let mut intent = Intent::new("splat", "vector", &["dimension", "value"]);
    for n in ["2", "3", "4"] {
        for s in ["0.0", "0.25", "0.5", "1.0", "2.0", "10.0"] {
            intent.add(&[n, s], &TEMPLATES, &format!("vec{n}<f32>({s})"), &[("n", n), ("s", s)]);
        }
    }
    intent
}

fn extensions() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Extend the vector {v} to a 4D vector with w equal to {w}",
        "Append w = {w} to the 3D vector {v}",
        "Turn {v} into a vec4 with {w} as the last component",
    ];
    let mut intent = Intent::new("extend", "vector", &["name", "w"]);
    for v in ["v", "p", "dir", "normal", "position", "offset"] {
        for w in ["0.0", "0.5", "1.0"] {
            intent.add(&[v, w], &TEMPLATES, &format!("vec4<f32>({v}, {w})"), &[("v", v), ("w", w)]);
        }
    }
    intent
}

fn swizzles() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Get the {sw} {part} of the vector {v}",
        "Swizzle {v} to {sw}",
        "Extract {sw} from the vector {v}",
        "Take only the {sw} {part} of {v}",
    ];
    let mut intent = Intent::new("swizzle", "vector", &["name", "swizzle"]);
    for v in ["v", "p", "dir", "offset"] {
        for sw in ["x", "y", "z", "xy", "xz", "yz", "yx", "zyx", "xxx"] {
            let part = if sw.len() == 1 { "component" } else { "components" };
            intent.add(&[v, sw], &TEMPLATES, &format!("{v}.{sw}"), &[("sw", sw), ("part", part), ("v", v)]);
        }
    }
    intent
}

/// Two-vector operations: (name, code, templates). `{a}` and `{b}` are the vectors' names.
const VECTOR_OPS: [(&str, &str, [&str; 3]); 6] = [
    (
        "add",
        "{a} + {b}",
        ["Add the vectors {a} and {b}", "Compute the sum of the vectors {a} and {b}", "Sum {a} and {b}"],
    ),
    (
        "subtract",
        "{a} - {b}",
        [
            "Subtract the vector {b} from the vector {a}",
            "Compute the difference {a} minus {b}",
            "Take {b} away from {a}",
        ],
    ),
    (
        "multiply",
        "{a} * {b}",
        [
            "Multiply the vectors {a} and {b} component-wise",
            "Compute the component-wise product of {a} and {b}",
            "Multiply {a} by {b} per component",
        ],
    ),
    (
        "divide",
        "{a} / {b}",
        [
            "Divide the vector {a} by the vector {b} component-wise",
            "Compute the component-wise quotient of {a} and {b}",
            "Divide {a} by {b} per component",
        ],
    ),
    (
        "midpoint",
        "({a} + {b}) * 0.5",
        [
            "Compute the midpoint between the points {a} and {b}",
            "Find the point halfway between {a} and {b}",
            "Average the vectors {a} and {b}",
        ],
    ),
    (
        "direction",
        "{b} - {a}",
        [
            "Compute the vector that points from {a} to {b}",
            "Get the offset from {a} to {b}",
            "Find the vector from the point {a} to the point {b}",
        ],
    ),
];

fn vector_arithmetic() -> Intent {
    let mut intent = Intent::new("vector_arithmetic", "vector", &["operation", "names"]);
    for (op, code, templates) in &VECTOR_OPS {
        for (a, b) in [("a", "b"), ("p", "q"), ("u", "v"), ("lhs", "rhs"), ("first", "second")] {
            intent.add(&[op, &format!("{a} {b}")], templates, code, &[("a", a), ("b", b)]);
        }
    }
    intent
}

fn vector_scaling() -> Intent {
    const OPS: [(&str, &str, [&str; 3]); 2] = [
        (
            "scale",
            "{v} * {f}",
            ["Scale the vector {v} by {f}", "Multiply the vector {v} by {f}", "Stretch {v} by a factor of {f}"],
        ),
        (
            "divide",
            "{v} / {f}",
            [
                "Divide the vector {v} by {f}",
                "Shrink the vector {v} by dividing it by {f}",
                "Compute {v} divided by {f}",
            ],
        ),
    ];
    let mut intent = Intent::new("vector_scaling", "vector", &["operation", "name", "factor"]);
    for (op, code, templates) in &OPS {
        for v in ["v", "p", "dir", "offset", "velocity"] {
            for f in ["0.5", "2.0", "3.0", "10.0"] {
                intent.add(&[op, v, f], templates, code, &[("v", v), ("f", f)]);
            }
        }
    }
    intent
}

// --- built-ins -------------------------------------------------------------------------------

/// One-argument built-ins and their paraphrases; `{x}` is the argument.
const UNARY: [(&str, [&str; 3]); 14] = [
    ("abs", ["Compute the absolute value of {x}", "Take the absolute value of {x}", "Drop the sign of {x} with abs"]),
    ("floor", ["Round {x} down to a whole number", "Compute the floor of {x}", "Take the floor of {x}"]),
    ("ceil", ["Round {x} up to a whole number", "Compute the ceiling of {x}", "Take the ceiling of {x}"]),
    (
        "round",
        [
            "Round {x} to the nearest whole number",
            "Compute {x} rounded to the nearest integer",
            "Round {x} to the closest integer",
        ],
    ),
    (
        "trunc",
        ["Truncate {x} toward zero", "Drop the fractional part of {x}", "Compute the integer part of {x} with trunc"],
    ),
    (
        "fract",
        [
            "Get the fractional part of {x}",
            "Compute the fractional part of {x}",
            "Keep only the part of {x} after the decimal point",
        ],
    ),
    ("sqrt", ["Compute the square root of {x}", "Take the square root of {x}", "Get the square root of {x}"]),
    ("sin", ["Compute the sine of {x}", "Take the sine of {x}", "Get the sine of {x}"]),
    ("cos", ["Compute the cosine of {x}", "Take the cosine of {x}", "Get the cosine of {x}"]),
    ("tan", ["Compute the tangent of {x}", "Take the tangent of {x}", "Get the tangent of {x}"]),
    (
        "exp",
        ["Compute e raised to the power {x}", "Compute the exponential of {x}", "Take the natural exponential of {x}"],
    ),
    ("log", ["Compute the natural logarithm of {x}", "Take the natural log of {x}", "Get the logarithm base e of {x}"]),
    ("sign", ["Get the sign of {x}", "Compute the sign of {x}", "Return -1.0, 0.0 or 1.0 by the sign of {x}"]),
    (
        "saturate",
        [
            "Saturate {x}",
            "Clamp {x} to the range 0.0 to 1.0 with saturate",
            "Limit {x} to the unit range with saturate",
        ],
    ),
];

fn unary_builtins() -> Intent {
    let mut intent = Intent::new("builtin_unary", "builtin", &["function", "argument"]);
    for (function, templates) in &UNARY {
        for x in ["x", "t", "v", "angle", "d"] {
            intent.add(&[function, x], templates, &format!("{function}({x})"), &[("x", x)]);
        }
    }
    intent
}

fn vector_builtins() -> Intent {
    const FUNCTIONS: [(&str, [&str; 4]); 2] = [
        (
            "normalize",
            [
                "Normalize the vector {v}",
                "Make {v} unit length",
                "Get the unit vector pointing along {v}",
                "Scale {v} to a length of 1.0",
            ],
        ),
        (
            "length",
            [
                "Get the length of the vector {v}",
                "Compute the magnitude of {v}",
                "Measure how long the vector {v} is",
                "Compute the Euclidean length of {v}",
            ],
        ),
    ];
    let mut intent = Intent::new("builtin_vector", "builtin", &["function", "argument"]);
    for (function, templates) in &FUNCTIONS {
        for v in ["v", "n", "dir", "uv", "p", "offset", "velocity"] {
            intent.add(&[function, v], templates, &format!("{function}({v})"), &[("v", v)]);
        }
    }
    intent
}

/// Two-argument built-ins: (function, templates); the code is `function(a, b)`.
const BINARY: [(&str, [&str; 3]); 8] = [
    (
        "dot",
        [
            "Compute the dot product of {a} and {b}",
            "Dot {a} with {b}",
            "Take the dot product of the vectors {a} and {b}",
        ],
    ),
    (
        "cross",
        [
            "Compute the cross product of {a} and {b}",
            "Cross {a} with {b}",
            "Find the vector perpendicular to {a} and {b} with a cross product",
        ],
    ),
    (
        "distance",
        [
            "Compute the distance between {a} and {b}",
            "Measure how far {a} is from {b}",
            "Get the distance from {a} to {b}",
        ],
    ),
    (
        "reflect",
        [
            "Reflect {a} about the normal {b}",
            "Bounce the direction {a} off a surface with normal {b}",
            "Compute the reflection of {a} around {b}",
        ],
    ),
    ("min", ["Take the minimum of {a} and {b}", "Take the smaller of {a} and {b}", "Pick the lesser of {a} and {b}"]),
    ("max", ["Take the maximum of {a} and {b}", "Take the larger of {a} and {b}", "Pick the greater of {a} and {b}"]),
    (
        "atan2",
        [
            "Compute the arctangent of {a} over {b} with atan2",
            "Get the angle of the point ({b}, {a}) with atan2",
            "Compute atan2 of {a} and {b}",
        ],
    ),
    (
        "step",
        [
            "Step {b} against the edge {a}",
            "Return 1.0 when {b} is at least {a} and 0.0 otherwise",
            "Compare {b} with the edge {a} using step",
        ],
    ),
];

fn binary_builtins() -> Intent {
    let mut intent = Intent::new("builtin_binary", "builtin", &["function", "arguments"]);
    for (function, templates) in &BINARY {
        for (a, b) in [("a", "b"), ("p", "q"), ("n", "l"), ("x", "y")] {
            let code = format!("{function}({a}, {b})");
            intent.add(&[function, &format!("{a} {b}")], templates, &code, &[("a", a), ("b", b)]);
        }
    }
    intent
}

/// Scalar arguments of the built-ins that take literal bounds.
const SCALARS: [&str; 4] = ["x", "t", "d", "v"];

/// Low and high bounds shared by `clamp` and `smoothstep`.
const RANGES: [(&str, &str); 5] = [("0.0", "1.0"), ("-1.0", "1.0"), ("0.0", "0.5"), ("0.25", "0.75"), ("0.2", "0.8")];

fn clamps() -> Intent {
    const TEMPLATES: [&str; 4] = [
        "Clamp {x} between {lo} and {hi}",
        "Limit {x} to the range {lo} to {hi}",
        "Keep {x} within {lo} and {hi}",
        "Restrict {x} to [{lo}, {hi}]",
    ];
    let mut intent = Intent::new("builtin_clamp", "builtin", &["argument", "range"]);
    for x in SCALARS {
        for (lo, hi) in RANGES {
            let code = format!("clamp({x}, {lo}, {hi})");
            intent.add(&[x, &format!("{lo} {hi}")], &TEMPLATES, &code, &[("x", x), ("lo", lo), ("hi", hi)]);
        }
    }
    intent
}

fn smoothsteps() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Smoothly step {x} between {lo} and {hi}",
        "Fade in smoothly as {x} goes from {lo} to {hi}",
        "Apply smoothstep to {x} with the edges {lo} and {hi}",
    ];
    let mut intent = Intent::new("builtin_smoothstep", "builtin", &["argument", "edges"]);
    for x in SCALARS {
        for (lo, hi) in RANGES {
            let code = format!("smoothstep({lo}, {hi}, {x})");
            intent.add(&[x, &format!("{lo} {hi}")], &TEMPLATES, &code, &[("x", x), ("lo", lo), ("hi", hi)]);
        }
    }
    intent
}

fn steps() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Return 1.0 when {x} is at least {e} and 0.0 otherwise",
        "Step {x} at the edge {e}",
        "Threshold {x} at {e} with step",
    ];
    let mut intent = Intent::new("builtin_step", "builtin", &["argument", "edge"]);
    for x in SCALARS {
        for e in ["0.1", "0.25", "0.5", "0.75", "0.9"] {
            intent.add(&[x, e], &TEMPLATES, &format!("step({e}, {x})"), &[("x", x), ("e", e)]);
        }
    }
    intent
}

fn powers() -> Intent {
    const TEMPLATES: [&str; 3] =
        ["Raise {x} to the power of {p}", "Compute {x} to the power {p}", "Take {x} raised to {p}"];
    let mut intent = Intent::new("builtin_pow", "builtin", &["argument", "exponent"]);
    for x in SCALARS {
        for p in ["0.5", "2.0", "2.2", "3.0", "4.0", "5.0"] {
            intent.add(&[x, p], &TEMPLATES, &format!("pow({x}, {p})"), &[("x", x), ("p", p)]);
        }
    }
    intent
}

fn min_max() -> Intent {
    const FUNCTIONS: [(&str, [&str; 3]); 2] = [
        ("min", ["Take the minimum of {x} and {c}", "Limit {x} to at most {c}", "Cap {x} from above at {c}"]),
        ("max", ["Take the maximum of {x} and {c}", "Limit {x} to at least {c}", "Cap {x} from below at {c}"]),
    ];
    let mut intent = Intent::new("builtin_min_max", "builtin", &["function", "argument", "bound"]);
    for (function, templates) in &FUNCTIONS {
        for x in SCALARS {
            for c in ["0.0", "0.5", "1.0"] {
                intent.add(&[function, x, c], templates, &format!("{function}({x}, {c})"), &[("x", x), ("c", c)]);
            }
        }
    }
    intent
}

fn mixes() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Linearly interpolate between {a} and {b} by {t}",
        "Mix {a} and {b} with the factor {t}",
        "Blend from {a} to {b} by {t}",
    ];
    let mut intent = Intent::new("builtin_mix", "builtin", &["arguments", "factor"]);
    for (a, b) in [("a", "b"), ("x", "y"), ("color_a", "color_b"), ("p", "q")] {
        for t in ["0.1", "0.25", "0.5", "0.75", "0.9"] {
            let code = format!("mix({a}, {b}, {t})");
            intent.add(&[&format!("{a} {b}"), t], &TEMPLATES, &code, &[("a", a), ("b", b), ("t", t)]);
        }
    }
    intent
}

// --- color operations ------------------------------------------------------------------------

/// Names of the color a color operation works on.
const COLOR_VARIABLES: [&str; 4] = ["color", "albedo", "base_color", "sky_color"];

const LUMA: &str = "vec3<f32>(0.299, 0.587, 0.114)";

fn color_filters() -> Intent {
    let filters: [(&str, String, [&str; 3]); 4] = [
        (
            "invert",
            "let inverted = vec3<f32>(1.0) - {c};".to_string(),
            ["Invert {c}", "Compute the complement of {c}", "Get the negative of {c} as a color"],
        ),
        (
            "grayscale",
            format!("let gray = vec3<f32>(dot({{c}}, {LUMA}));"),
            [
                "Convert {c} to grayscale",
                "Make a grayscale version of {c}",
                "Turn {c} gray while keeping its brightness",
            ],
        ),
        (
            "luminance",
            "let luminance = dot({c}, vec3<f32>(0.2126, 0.7152, 0.0722));".to_string(),
            [
                "Compute the luminance of {c}",
                "Measure how bright {c} is with Rec. 709 weights",
                "Get the luminance of {c}",
            ],
        ),
        (
            "reinhard",
            "let mapped = {c} / ({c} + vec3<f32>(1.0));".to_string(),
            [
                "Tone map {c} with Reinhard",
                "Apply Reinhard tone mapping to {c}",
                "Compress the HDR color {c} with the Reinhard operator",
            ],
        ),
    ];
    let mut intent = Intent::new("color_filter", "color_operation", &["operation", "variable"]);
    for (filter, code, templates) in &filters {
        for c in COLOR_VARIABLES {
            intent.add(&[filter, c], templates, code, &[("c", c)]);
        }
    }
    intent
}

/// Color adjustments by an amount: (intent, code, amounts, templates); `{c}` is the color
/// variable and `{n}` the amount.
const ADJUSTMENTS: [(&str, &str, &[&str], [&str; 3]); 7] = [
    (
        "color_brighten",
        "let brighter = {c} + vec3<f32>({n});",
        &["0.1", "0.2", "0.25", "0.5"],
        ["Brighten {c} by {n}", "Add {n} to every channel of {c}", "Make {c} brighter by {n}"],
    ),
    (
        "color_darken",
        "let darker = {c} * {n};",
        &["0.25", "0.5", "0.75", "0.8"],
        ["Darken {c} by scaling it by {n}", "Scale the brightness of {c} by {n}", "Multiply {c} by {n} to darken it"],
    ),
    (
        "color_contrast",
        "let contrasted = ({c} - vec3<f32>(0.5)) * {n} + vec3<f32>(0.5);",
        &["0.5", "1.2", "1.5", "2.0"],
        [
            "Adjust the contrast of {c} by a factor of {n}",
            "Scale the contrast of {c} around 0.5 by {n}",
            "Change the contrast of {c} with the factor {n}",
        ],
    ),
    (
        "color_saturation",
        "let gray = vec3<f32>(dot({c}, vec3<f32>(0.299, 0.587, 0.114)));\nlet saturated = mix(gray, {c}, {n});",
        &["0.0", "0.5", "1.5", "2.0"],
        [
            "Adjust the saturation of {c} by {n}",
            "Scale the saturation of {c} by a factor of {n}",
            "Saturate {c} by a factor of {n}",
        ],
    ),
    (
        "color_gamma",
        "let corrected = pow({c}, vec3<f32>(1.0 / {n}));",
        &["1.8", "2.0", "2.2", "2.4"],
        ["Gamma correct {c} with gamma {n}", "Encode {c} with a gamma of {n}", "Apply gamma {n} correction to {c}"],
    ),
    (
        "color_linearize",
        "let linear = pow({c}, vec3<f32>({n}));",
        &["1.8", "2.0", "2.2", "2.4"],
        [
            "Convert {c} to linear with gamma {n}",
            "Decode {c} from gamma {n} to linear",
            "Linearize {c} with a gamma of {n}",
        ],
    ),
    (
        "color_threshold",
        "let thresholded = step(vec3<f32>({n}), {c});",
        &["0.25", "0.5", "0.75"],
        [
            "Threshold every channel of {c} at {n}",
            "Turn each channel of {c} to 0.0 or 1.0 at the cutoff {n}",
            "Apply a step at {n} to each channel of {c}",
        ],
    ),
];

fn color_adjustments() -> Vec<Intent> {
    ADJUSTMENTS
        .iter()
        .map(|(name, code, amounts, templates)| {
            let mut intent = Intent::new(name, "color_operation", &["amount", "variable"]);
            for n in amounts.iter() {
                for c in COLOR_VARIABLES {
                    intent.add(&[n, c], templates, code, &[("c", c), ("n", n)]);
                }
            }
            intent
        })
        .collect()
}

fn tints() -> Intent {
    const TEMPLATES: [&str; 3] =
        ["Tint {c} with {color}", "Apply {a_color} filter to {c}", "Multiply {c} by the color {color}"];
    let mut intent = Intent::new("color_tint", "color_operation", &["color", "variable"]);
    for color in &COLORS {
        let a_color = color.with_article();
        for c in ["color", "albedo"] {
            let code = format!("let tinted = {c} * {};", color.vec3());
            intent.add(
                &[color.name, c],
                &TEMPLATES,
                &code,
                &[("c", c), ("a_color", a_color.as_str()), ("color", color.name)],
            );
        }
    }
    intent
}

fn blends() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Blend {from} into {to} by {t}",
        "Mix the colors {from} and {to} with the factor {t}",
        "Interpolate from {from} to {to} at {t}",
    ];
    let mut intent = Intent::new("color_blend", "color_operation", &["from", "to", "factor"]);
    for from in &COLORS[..5] {
        for to in COLORS[..5].iter().filter(|to| to.name != from.name) {
            for t in ["0.25", "0.5", "0.75"] {
                let code = format!("let blended = mix({}, {}, {t});", from.vec3(), to.vec3());
                let vars = [("from", from.name), ("to", to.name), ("t", t)];
                intent.add(&[from.name, to.name, t], &TEMPLATES, &code, &vars);
            }
        }
    }
    intent
}

// --- fragment shaders ------------------------------------------------------------------------

const FRAGMENT_CONSTANT: &str = "\
@fragment
fn main() -> @location(0) vec4<f32> {
    return {value};
}";

/// A fragment shader of the interpolated `uv`; `{body}` is its indented statements.
const FRAGMENT_UV: &str = "\
@fragment
fn main(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> {
{body}
}";

fn solid_fragments() -> Intent {
    const OPAQUE: [&str; 4] = [
        "Write a fragment shader that outputs solid {color}",
        "Write a fragment shader that fills the screen with {color}",
        "Create a fragment shader that paints every pixel {color}",
        "Make a fragment shader returning opaque {color}",
    ];
    const ALPHA: [&str; 4] = [
        "Write a fragment shader that outputs {color} with alpha {alpha}",
        "Write a fragment shader that fills the screen with {color} at opacity {alpha}",
        "Create a fragment shader that paints every pixel {color} with an alpha of {alpha}",
        "Make a fragment shader returning {color} at alpha {alpha}",
    ];
    let mut intent = Intent::new("fragment_solid", "fragment_shader", &["color", "alpha"]);
    for color in &COLORS {
        for (alpha, templates, value) in [("opaque", OPAQUE, color.vec4("1.0")), ("0.5", ALPHA, color.vec4("0.5"))] {
            let vars = [("value", value.as_str()), ("color", color.name), ("alpha", alpha)];
            intent.add(&[color.name, alpha], &templates, FRAGMENT_CONSTANT, &vars);
        }
    }
    intent
}

fn gradient_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that fades from {from} to {to} along uv.{axis}",
        "Write a fragment shader with a {direction} gradient from {from} to {to}",
        "Create a {direction} {from} to {to} gradient fragment shader",
    ];
    let mut intent = Intent::new("fragment_gradient", "fragment_shader", &["axis", "from", "to"]);
    for (axis, direction) in [("x", "horizontal"), ("y", "vertical")] {
        for from in &COLORS[..6] {
            for to in COLORS[..6].iter().filter(|to| to.name != from.name) {
                let body = format!(
                    "    let color = mix({}, {}, uv.{axis});\n    return vec4<f32>(color, 1.0);",
                    from.vec3(),
                    to.vec3()
                );
                let vars = [("body", body.as_str()), ("from", from.name), ("to", to.name)];
                let vars = [&vars[..], &[("axis", axis), ("direction", direction)]].concat();
                intent.add(&[axis, from.name, to.name], &TEMPLATES, FRAGMENT_UV, &vars);
            }
        }
    }
    intent
}

fn circle_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that draws {a_color} circle of radius {r}",
        "Create a fragment shader with a centered {color} disc of radius {r} on black",
        "Make a fragment shader that fills a circle of radius {r} around the center with {color}",
    ];
    let mut intent = Intent::new("fragment_circle", "fragment_shader", &["color", "radius"]);
    for color in &COLORS[..8] {
        let a_color = color.with_article();
        for r in ["0.1", "0.25", "0.3", "0.4", "0.5"] {
            let body = format!(
                "    let inside = 1.0 - step({r}, distance(uv, vec2<f32>(0.5)));\n    return vec4<f32>({} * inside, 1.0);",
                color.vec3()
            );
            let vars = [("body", body.as_str()), ("a_color", a_color.as_str()), ("color", color.name), ("r", r)];
            intent.add(&[color.name, r], &TEMPLATES, FRAGMENT_UV, &vars);
        }
    }
    intent
}

fn pattern_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that draws {pattern} with uv scaled by {s}",
        "Create a black and white {pattern} fragment shader that repeats {s} times across uv",
        "Make a fragment shader showing {pattern} at a scale of {s}",
    ];
    let patterns = [
        ("vertical stripes", "    let stripes = step(0.5, fract(uv.x * {s}));\n    return vec4<f32>(vec3<f32>(stripes), 1.0);"),
        ("horizontal stripes", "    let stripes = step(0.5, fract(uv.y * {s}));\n    return vec4<f32>(vec3<f32>(stripes), 1.0);"),
        (
            "checkers",
            "    let cell = floor(uv * {s});\n    let checker = (cell.x + cell.y) % 2.0;\n    return vec4<f32>(vec3<f32>(checker), 1.0);",
        ),
    ];
    let mut intent = Intent::new("fragment_pattern", "fragment_shader", &["pattern", "scale"]);
    for (pattern, body) in patterns {
        for s in ["2.0", "4.0", "5.0", "8.0", "10.0", "16.0"] {
            intent.add(&[pattern, s], &TEMPLATES, FRAGMENT_UV, &[("body", body), ("pattern", pattern), ("s", s)]);
        }
    }
    intent
}

/// A fragment shader sampling a texture; `{body}` is its indented statements.
const FRAGMENT_TEXTURE: &str = "\
@group({g}) @binding({t}) var t_diffuse: texture_2d<f32>;
@group({g}) @binding({s}) var s_diffuse: sampler;
@fragment
fn main(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> {
{body}
}";

/// (texture, sampler) bindings.
const TEXTURE_BINDINGS: [(&str, &str); 4] = [("0", "1"), ("1", "2"), ("2", "3"), ("1", "0")];

/// What a texture-sampling fragment shader does: (effect, its indented body).
fn texture_effects() -> Vec<(&'static str, String)> {
    const SAMPLE: &str = "textureSample(t_diffuse, s_diffuse, uv)";
    vec![
        ("samples a texture", format!("    return {SAMPLE};")),
        (
            "shows a texture in grayscale",
            format!(
                "    let color = {SAMPLE};\n    let gray = dot(color.rgb, {LUMA});\n    return vec4<f32>(vec3<f32>(gray), color.a);"
            ),
        ),
        (
            "shows a texture with inverted colors",
            format!("    let color = {SAMPLE};\n    return vec4<f32>(1.0 - color.rgb, color.a);"),
        ),
        ("samples a texture with red and blue swapped", format!("    return {SAMPLE}.bgra;")),
        (
            "shows a texture at half brightness",
            format!("    let color = {SAMPLE};\n    return vec4<f32>(color.rgb * 0.5, color.a);"),
        ),
        (
            "samples a texture flipped vertically",
            "    return textureSample(t_diffuse, s_diffuse, vec2<f32>(uv.x, 1.0 - uv.y));".to_string(),
        ),
    ]
}

fn texture_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that {effect}, with the texture at group {g} binding {t} and the sampler at binding {s}",
        "Create a fragment shader that {effect} using texture binding {t} and sampler binding {s} in group {g}",
        "Make a fragment shader that {effect}; bind the texture at @group({g}) @binding({t}) and the sampler at @binding({s})",
    ];
    let effects = texture_effects();
    let mut intent = Intent::new("fragment_texture", "fragment_shader", &["effect", "group", "bindings"]);
    for (effect, body) in &effects {
        for g in ["0", "1"] {
            for (t, s) in TEXTURE_BINDINGS {
                let vars = [("effect", *effect), ("body", body.as_str()), ("g", g), ("t", t), ("s", s)];
                intent.add(&[*effect, g, &format!("{t} {s}")], &TEMPLATES, FRAGMENT_TEXTURE, &vars);
            }
        }
    }
    intent
}

fn tinted_texture_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that samples a texture and tints it {color}, with the texture at binding {t} and the sampler at binding {s}",
        "Create a fragment shader that multiplies a texture by {color} using texture binding {t} and sampler binding {s}",
        "Make a fragment shader that tints the sampled texture with {color}; texture at @binding({t}), sampler at @binding({s})",
    ];
    let mut intent = Intent::new("fragment_texture_tint", "fragment_shader", &["color", "bindings"]);
    for color in &COLORS[..8] {
        let body = format!("    return textureSample(t_diffuse, s_diffuse, uv) * {};", color.vec4("1.0"));
        for (t, s) in TEXTURE_BINDINGS {
            let vars = [("body", body.as_str()), ("g", "0"), ("t", t), ("s", s), ("color", color.name)];
            intent.add(&[color.name, &format!("{t} {s}")], &TEMPLATES, FRAGMENT_TEXTURE, &vars);
        }
    }
    intent
}

fn uniform_fragments() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a fragment shader that {effect} read from group {g} binding {b}",
        "Create a fragment shader that {effect}, with the uniform at @group({g}) @binding({b})",
        "Make a fragment shader that {effect}; the Material uniform sits at group {g}, binding {b}",
    ];
    const CODE: &str = "\
struct Material {
    color: vec4<f32>,
}
@group({g}) @binding({b}) var<uniform> material: Material;
@fragment
fn main({input}) -> @location(0) vec4<f32> {
    return {value};
}";
    let effects = [
        ("outputs a uniform color", "", "material.color"),
        (
            "multiplies a UV gradient by a uniform color",
            "@location(0) uv: vec2<f32>",
            "vec4<f32>(uv, 0.0, 1.0) * material.color",
        ),
        ("outputs the inverse of a uniform color", "", "vec4<f32>(1.0 - material.color.rgb, material.color.a)"),
    ];
    let mut intent = Intent::new("fragment_uniform", "fragment_shader", &["effect", "group", "binding"]);
    for (effect, input, value) in effects {
        for g in ["0", "1", "2"] {
            for b in ["0", "1", "2", "3"] {
                let vars = [("effect", effect), ("input", input), ("value", value), ("g", g), ("b", b)];
                intent.add(&[effect, g, b], &TEMPLATES, CODE, &vars);
            }
        }
    }
    intent
}

// --- vertex shaders --------------------------------------------------------------------------

fn vertex_positions() -> Intent {
    const PASS: [&str; 3] = [
        "Write a passthrough vertex shader for a {dim}D position at location {loc}",
        "Write a vertex shader that outputs the {dim}D position from location {loc} unchanged",
        "Make a vertex shader that passes the {dim}D vertex position at location {loc} straight through",
    ];
    const SCALE: [&str; 3] = [
        "Write a vertex shader that scales the {dim}D position at location {loc} by {f}",
        "Make a vertex shader that multiplies the {dim}D vertex position from location {loc} by {f}",
        "Write a vertex shader that resizes the {dim}D position at location {loc} by a factor of {f}",
    ];
    const FLIP: [&str; 3] = [
        "Write a vertex shader that flips the {dim}D position at location {loc} vertically",
        "Make a vertex shader that mirrors the {dim}D vertex position from location {loc} upside down",
        "Write a vertex shader that negates the y of the {dim}D position at location {loc}",
    ];
    const CODE: &str = "\
@vertex
fn main(@location({loc}) position: vec{dim}<f32>) -> @builtin(position) vec4<f32> {
    return vec4<f32>({xyz}, {w});
}";
    let mut intent = Intent::new("vertex_position", "vertex_shader", &["transform", "dimension", "location"]);
    for transform in ["passthrough", "0.25", "0.5", "2.0", "flip"] {
        for (dim, w, flipped) in
            [("2", "0.0, 1.0", "position.x, -position.y"), ("3", "1.0", "position.x, -position.y, position.z")]
        {
            let (templates, xyz) = match transform {
                "passthrough" => (PASS, "position".to_string()),
                "flip" => (FLIP, flipped.to_string()),
                f => (SCALE, format!("position * {f}")),
            };
            for loc in ["0", "1", "2"] {
                let vars = [("xyz", xyz.as_str()), ("w", w), ("dim", dim), ("loc", loc), ("f", transform)];
                intent.add(&[transform, dim, loc], &templates, CODE, &vars);
            }
        }
    }
    intent
}

fn vertex_matrices() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a vertex shader that transforms the position by the uniform matrix {m} at group {g} binding {b}",
        "Create a vertex shader that multiplies the 3D position by uniforms.{m}, bound at @group({g}) @binding({b})",
        "Make a vertex shader applying the {m} matrix from the uniform at group {g}, binding {b}",
    ];
    const CODE: &str = "\
struct Uniforms {
    {m}: mat4x4<f32>,
}
@group({g}) @binding({b}) var<uniform> uniforms: Uniforms;
@vertex
fn main(@location(0) position: vec3<f32>) -> @builtin(position) vec4<f32> {
    return uniforms.{m} * vec4<f32>(position, 1.0);
}";
    let mut intent = Intent::new("vertex_matrix", "vertex_shader", &["matrix", "group", "binding"]);
    for m in ["mvp", "view_proj", "model", "transform"] {
        for g in ["0", "1"] {
            for b in ["0", "1", "2"] {
                intent.add(&[m, g, b], &TEMPLATES, CODE, &[("m", m), ("g", g), ("b", b)]);
            }
        }
    }
    intent
}

/// A vertex shader with a `VertexOutput` of the position and one more value at `{out}`.
const VERTEX_OUTPUT: &str = "\
struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location({out}) {name}: {ty},
}
@vertex
fn main(@location(0) position: vec3<f32>{input}) -> VertexOutput {
    var out: VertexOutput;
    out.position = vec4<f32>(position, 1.0);
    out.{name} = {value};
    return out;
}";

fn vertex_varyings() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a vertex shader that passes the {name} from location {in} to the fragment stage at location {out}",
        "Create a vertex shader that forwards the vertex {name} at input location {in} to output location {out}",
        "Make a vertex shader that outputs the position and hands on the {name} read at location {in} at location {out}",
    ];
    let mut intent = Intent::new("vertex_varying", "vertex_shader", &["attribute", "input", "output"]);
    for (name, ty) in [("color", "vec3<f32>"), ("uv", "vec2<f32>"), ("normal", "vec3<f32>")] {
        for input in ["1", "2"] {
            for out in ["0", "1"] {
                let parameter = format!(", @location({input}) {name}: {ty}");
                let vars = [("input", parameter.as_str()), ("name", name), ("ty", ty), ("value", name)];
                let vars = [&vars[..], &[("in", input), ("out", out)]].concat();
                intent.add(&[name, input, out], &TEMPLATES, VERTEX_OUTPUT, &vars);
            }
        }
    }
    intent
}

fn vertex_colors() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a vertex shader that outputs the position and a fixed {color} color at location {out}",
        "Create a vertex shader that colors every vertex {color}, passing it on at location {out}",
        "Make a vertex shader that sends {color} to the fragment stage at location {out}",
    ];
    let mut intent = Intent::new("vertex_color", "vertex_shader", &["color", "output"]);
    for color in &COLORS[..8] {
        let value = color.vec3();
        for out in ["0", "1", "2"] {
            let vars = [("input", ""), ("name", "color"), ("ty", "vec3<f32>"), ("value", value.as_str())];
            let vars = [&vars[..], &[("out", out), ("color", color.name)]].concat();
            intent.add(&[color.name, out], &TEMPLATES, VERTEX_OUTPUT, &vars);
        }
    }
    intent
}

// --- compute shaders -------------------------------------------------------------------------

const WORKGROUP_SIZES: [&str; 4] = ["32", "64", "128", "256"];

/// A compute shader that sets every element of the storage buffer `data` to `{value}`.
const COMPUTE_MAP: &str = "\
@group(0) @binding({b}) var<storage, read_write> data: array<f32>;
@compute @workgroup_size({wg})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&data) {
        data[id.x] = {value};
    }
}";

fn compute_maps() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a compute shader with workgroup size {wg} that {action}",
        "Create a compute shader that {action}, using workgroups of {wg}",
        "Make a compute shader (workgroup size {wg}) that {action}",
    ];
    let mut intent = Intent::new("compute_map", "compute_shader", &["operation", "workgroup_size", "binding"]);
    for (operation, action, value) in compute_operations() {
        for wg in WORKGROUP_SIZES {
            for b in ["0", "1"] {
                let vars = [("action", action.as_str()), ("buffer", "the storage buffer at binding {b}")];
                let vars = [&vars[..], &[("value", value.as_str()), ("wg", wg), ("b", b)]].concat();
                intent.add(&[&operation, wg, b], &TEMPLATES, COMPUTE_MAP, &vars);
            }
        }
    }
    intent
}

/// (operation, action phrase with `{buffer}`, the new value of `data[id.x]`).
fn compute_operations() -> Vec<(String, String, String)> {
    let mut operations = Vec::new();
    for f in ["0.5", "2.0", "3.0"] {
        let action = format!("multiplies every value in {{buffer}} by {f}");
        operations.push((format!("scale {f}"), action, format!("data[id.x] * {f}")));
    }
    for a in ["1.0", "2.0"] {
        operations.push((
            format!("add {a}"),
            format!("adds {a} to every value in {{buffer}}"),
            format!("data[id.x] + {a}"),
        ));
    }
    for v in ["0.0", "1.0"] {
        operations.push((format!("fill {v}"), format!("fills {{buffer}} with {v}"), v.to_string()));
    }
    let unary = [
        ("square", "squares every value in {buffer}", "data[id.x] * data[id.x]"),
        ("abs", "replaces every value in {buffer} with its absolute value", "abs(data[id.x])"),
        ("sqrt", "takes the square root of every value in {buffer}", "sqrt(data[id.x])"),
        ("negate", "negates every value in {buffer}", "-data[id.x]"),
        ("clamp", "clamps every value in {buffer} between 0.0 and 1.0", "clamp(data[id.x], 0.0, 1.0)"),
        ("floor", "rounds every value in {buffer} down", "floor(data[id.x])"),
    ];
    for (operation, action, value) in unary {
        operations.push((operation.to_string(), action.to_string(), value.to_string()));
    }
    operations
}

fn compute_binaries() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a compute shader with workgroup size {wg} that {action}",
        "Create a compute shader that {action}, with a workgroup size of {wg}",
        "Make a compute shader with {wg} invocations per workgroup that {action}",
    ];
    const CODE: &str = "\
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> result: array<f32>;
@compute @workgroup_size({wg})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = id.x;
    if i < arrayLength(&result) {
        result[i] = {value};
    }
}";
    let operations = [
        ("add", "adds the buffers a and b into result", "a[i] + b[i]"),
        ("subtract", "subtracts the buffer b from a into result", "a[i] - b[i]"),
        ("multiply", "multiplies the buffers a and b into result", "a[i] * b[i]"),
        ("max", "writes the maximum of the buffers a and b into result", "max(a[i], b[i])"),
        ("min", "writes the minimum of the buffers a and b into result", "min(a[i], b[i])"),
    ];
    let mut intent = Intent::new("compute_binary", "compute_shader", &["operation", "workgroup_size"]);
    for (operation, action, value) in operations {
        for wg in WORKGROUP_SIZES {
            intent.add(&[operation, wg], &TEMPLATES, CODE, &[("action", action), ("value", value), ("wg", wg)]);
        }
    }
    intent
}

fn compute_textures() -> Intent {
    const TEMPLATES: [&str; 3] = [
        "Write a compute shader that fills a storage texture with {color} using workgroup size ({w}, {w})",
        "Create a compute shader with {w} by {w} workgroups that writes {color} into every texel of a storage texture",
        "Make a compute shader that paints a storage texture {color}, workgroup size {w} by {w}",
    ];
    const CODE: &str = "\
@group(0) @binding(0) var output: texture_storage_2d<rgba8unorm, write>;
@compute @workgroup_size({w}, {w})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    textureStore(output, id.xy, {value});
}";
    let mut intent = Intent::new("compute_texture", "compute_shader", &["color", "workgroup_size"]);
    for color in &COLORS[..8] {
        let value = color.vec4("1.0");
        for w in ["4", "8", "16"] {
            intent.add(
                &[color.name, w],
                &TEMPLATES,
                CODE,
                &[("value", value.as_str()), ("color", color.name), ("w", w)],
            );
        }
    }
    intent
}
