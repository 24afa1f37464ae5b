//! Rewrites of a generated prompt the way people type requests.
//!
//! The generator fills a few fixed English templates per intent ("Write a fragment shader that
//! fills the screen with teal at opacity 0.5"), so a model trained on them learns the templates and
//! fails on requests phrased freely ("need a pixel shader that paints the screen teal at opacity
//! 0.5", "how do i extract xy from the vec dir?"). [`rephrase`] rewrites a prompt without changing
//! what it asks for. Each rewrite combines one to three of: another lead ("I need ...", "How do I
//! write ...?", a bare noun phrase), meaning-preserving synonyms ("pixel shader", "each element",
//! "colour"), lower case, fillers (dropped articles, "please", "in WGSL", end punctuation); about a
//! quarter of rewrites also get one typo in a plain English word.
//!
//! What the code depends on never changes: the slot values passed as `keep`, numbers and anything
//! code-like (`uv.x`, `@binding(1)`, `vec3<f32>`, `t_diffuse`, a capitalised name inside the prompt
//! such as `Material`) stay byte-identical and keep their neighbours, so the target code can still
//! be derived from the rewrite.

use crate::rng::SplitMix64;

/// Leads before a noun phrase ("I need" + "a fragment shader that ...").
#[rustfmt::skip]
const NOUN_LEADS: &[&str] = &[
    "", "", "I need", "I want", "I'd like", "need", "Can you write", "can you write me", "Could you make",
    "Could you write", "Please write", "Please create", "Show me", "Generate", "How do I write", "How would I write",
    "write me", "give me", "Help me write", "I'm looking for", "Can I get", "WGSL code for",
];

/// Leads before an imperative verb other than "write" ("How do I" + "extract xy from v").
#[rustfmt::skip]
const VERB_LEADS: &[&str] = &[
    "How do I", "How can I", "How to", "how would I", "Can you", "Could you", "I want to", "I need to", "I'd like to",
    "Please", "Help me", "need to", "Trying to", "WGSL code to",
];

/// Leads of "What is X in RGB" questions.
const WHAT_LEADS: &[&str] = &["What's", "what's", "What is", "whats", ""];

/// The chance that a request with this lead ends with "?".
fn ask_chance(lead: &str, what: bool) -> f64 {
    let lead = lead.to_lowercase();
    match lead.split(' ').next().unwrap_or_default() {
        "how" if lead.ends_with(" to") => 0.3,
        "how" => 1.0,
        "can" | "could" => 0.6,
        "what" | "what's" | "whats" => 0.7,
        _ if what => 0.5,
        _ => 0.0,
    }
}

/// First words that are no imperative verb, so no lead goes before them.
const NOT_VERBS: &[&str] =
    &["a", "an", "the", "i", "if", "for", "when", "while", "what", "how", "can", "could", "would", "please", "is"];

/// Swaps that keep the meaning in every template they match (lower case, whole words, longest and
/// most specific first). None turns one value into another: "opacity" never becomes
/// "transparency", and "storage buffer" becomes "buffer" only where no other kind is meant.
const SYNONYMS: &[(&str, &[&str])] = &[
    // A shader whose stage is not named is a fragment shader (the generator's convention, and
    // constrained decoding's).
    ("fragment shader", &["pixel shader", "frag shader", "shader"]),
    ("vertex shader", &["vert shader"]),
    ("compute shader", &["compute kernel"]),
    ("outputs", &["returns", "gives"]),
    ("returns", &["outputs"]),
    ("returning", &["that returns", "that outputs", "outputting"]),
    ("fills the screen with", &["paints the screen", "covers the screen with", "fills the whole screen with"]),
    ("paints every pixel", &["colors every pixel", "paints each pixel", "sets every pixel to"]),
    ("multiplies every value", &["scales every value", "scales each element", "multiplies each element"]),
    ("every value", &["each value", "each element", "every element", "each entry"]),
    ("every", &["each"]),
    ("the storage buffer at", &["the buffer at"]),
    ("with an alpha of", &["with alpha", "alpha"]),
    ("at opacity", &["with opacity", "with alpha", "at alpha"]),
    ("with full alpha", &["fully opaque"]),
    ("compute the", &["calculate the", "find the", "get the"]),
    ("take the", &["get the"]),
    ("multiply the vector", &["scale the vector"]),
    ("linearly interpolate", &["lerp"]),
    ("square root", &["sqrt"]),
    ("component-wise", &["componentwise", "element-wise", "per component"]),
    ("per component", &["component-wise", "per element"]),
    ("workgroups of", &["a workgroup size of"]),
    ("invocations per workgroup", &["threads per workgroup"]),
    ("a whole number", &["an integer"]),
    ("magnitude", &["length"]),
    ("straight through", &["unchanged"]),
    ("forwards", &["passes"]),
    ("draws", &["renders"]),
    ("disc", &["disk"]),
    ("centered", &["centred"]),
    ("normalize", &["normalise"]),
    ("halfway", &["midway"]),
    ("function", &["fn"]),
    ("vector", &["vec"]),
    ("vectors", &["vecs"]),
    ("color", &["colour"]),
    ("colors", &["colours"]),
    ("gray", &["grey"]),
    ("grayscale", &["greyscale"]),
];

/// Words after which "a" is no article but a name ("the vectors a and b", "Dot a with b").
const FUNCTION_WORDS: &[&str] = &[
    "and", "or", "with", "by", "to", "from", "about", "over", "into", "per", "at", "is", "in", "of", "on", "for", "as",
    "away", "minus", "plus", "times", "divided", "raised", "within", "between", "using", "against", "toward", "along",
    "around", "lies", "equals",
];

const WGSL_TAGS: &[&str] = &["in WGSL", "in wgsl", "using WGSL", "for WebGPU"];

/// WGSL built-ins named as such in prompts ("with saturate"): no typos in them.
const NO_TYPO: &[&str] = &["smoothstep", "saturate", "trunc", "fract"];

/// `n` distinct rewrites of `prompt`, each different from `prompt`; fewer if the tries run out.
/// Words of `keep` (slot values; a value of several words counts word by word), numbers and
/// code-like words appear in every rewrite as in `prompt`. A prompt with a line break or a brace
/// (a code block) gets none.
pub(super) fn rephrase(prompt: &str, keep: &[&str], n: usize, rng: &mut SplitMix64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if prompt.contains(['\n', '{', '}']) || prompt.trim().is_empty() {
        return out;
    }
    let original = parse(prompt, keep);
    let unchanged = original.render();
    for _ in 0..20 * n {
        if out.len() == n {
            break;
        }
        let rewrite = variant(&original, rng);
        if rewrite != prompt && rewrite != unchanged && !out.contains(&rewrite) {
            out.push(rewrite);
        }
    }
    out
}

/// Verbs after "a ... shader that" whose request, without the shader, would ask for a value
/// ("Output solid red" reads as a colour), or that describe the noun before them.
const NOT_UNNAMED: &[&str] = &["outputs", "returns", "returning", "gives", "repeats"];

/// The request without its shader named, so that a request that says only what the shader does
/// maps to the same module: "Write a fragment shader that fills the screen with red" -> "Fill
/// the screen with red", "Create a compute shader which adds 1.0 to every value in ..." -> "Add
/// 1.0 to every value in ...", "Write a fragment shader with a vertical gradient from red to
/// blue" -> "A vertical gradient from red to blue", "Make a vertex shader applying the mvp matrix
/// ..." -> "Apply the mvp matrix ...". `None` for a prompt of another shape, and where leaving
/// the shader out would drop a value, number or code word (`keep`, as in [`rephrase`]) that the
/// code depends on ("Make a compute shader (workgroup size 64) that ...").
pub(super) fn unnamed(prompt: &str, keep: &[&str]) -> Option<String> {
    if prompt.contains(['\n', '{', '}']) {
        return None;
    }
    let s = parse(prompt, keep);
    let words = &s.words;
    let stage = |i: usize| {
        let plain = |j: usize| words.get(j).filter(|w| !w.fixed && w.trail.is_empty()).map(Word::lower);
        matches!(plain(i).as_deref(), Some("fragment" | "vertex" | "compute"))
            && matches!(words.get(i + 1).filter(|w| !w.fixed).map(Word::lower).as_deref(), Some("shader" | "kernel"))
    };
    let at = (0..words.len()).find(|&i| stage(i))?;
    let noun = &words[at + 1];
    let next = |k: usize| words.get(at + 1 + k).filter(|w| !w.fixed);
    let mut rest: Vec<Word> = match (noun.trail.is_empty(), next(1).map(Word::lower).as_deref()) {
        (true, Some("that" | "which")) => {
            let verb = next(2).filter(|w| w.trail.is_empty() && !NOT_UNNAMED.contains(&&*w.lower()))?;
            let mut rest = vec![Word::prose(&base_form(&verb.lower())?)];
            rest.extend(words[at + 4..].iter().cloned());
            rest
        }
        (true, Some("with")) if matches!(next(2).map(Word::lower).as_deref(), Some("a" | "an")) => {
            words[at + 3..].to_vec()
        }
        (true, Some(verb)) if verb.ends_with("ing") && !NOT_UNNAMED.contains(&verb) => {
            let mut rest = vec![Word::prose(&base_form(verb)?)];
            rest.extend(words[at + 3..].iter().cloned());
            rest
        }
        // "Create a vertical red to blue gradient fragment shader" -> "Create a vertical red to blue gradient"
        (_, None) if at > 0 && words[at - 1].lower() == "gradient" => {
            let mut rest = words[..at].to_vec();
            rest.last_mut()?.trail = noun.trail.clone();
            rest
        }
        _ => return None,
    };
    // "... samples a texture and tints it green" -> "Sample a texture and tint it green"
    for j in 2..rest.len() {
        let object = rest.get(j + 1).map(Word::lower);
        if rest[j - 1].lower() == "and"
            && !rest[j].fixed
            && rest[j].text.ends_with('s')
            && matches!(object.as_deref(), Some("it" | "the" | "a" | "an" | "on"))
        {
            rest[j].text = base_form(&rest[j].lower())?;
        }
    }
    rest[0].recase_first(true);
    let fixed = |sentence: &[Word]| -> Vec<String> {
        let mut fixed: Vec<String> = sentence.iter().filter(|w| w.fixed).map(|w| w.text.clone()).collect();
        fixed.sort();
        fixed
    };
    let lost = fixed(words) != fixed(&rest) || rest.len() < 3;
    (!lost).then(|| Sentence { words: rest, end: s.end.clone(), imperative: true }.render())
}

/// The plain form of a verb in the third person or a gerund: "fills" -> "fill", "multiplies"
/// -> "multiply", "passes" -> "pass", "applying" -> "apply".
fn base_form(verb: &str) -> Option<String> {
    let stem = if let Some(stem) = verb.strip_suffix("ing") {
        stem.to_string()
    } else if let Some(stem) = verb.strip_suffix("ies") {
        format!("{stem}y")
    } else if ["sses", "shes", "ches", "xes"].iter().any(|end| verb.ends_with(end)) {
        verb[..verb.len() - 2].to_string()
    } else {
        verb.strip_suffix('s')?.to_string()
    };
    (stem.len() >= 2 && is_prose(&stem)).then_some(stem)
}

#[derive(Clone, Debug)]
struct Word {
    text: String,
    /// A "," or ";" after the word.
    trail: String,
    /// A keep word or code-like: never changed or dropped.
    fixed: bool,
}

impl Word {
    fn prose(text: &str) -> Word {
        Word { text: text.to_string(), trail: String::new(), fixed: false }
    }

    fn lower(&self) -> String {
        self.text.to_lowercase()
    }

    /// Upper- or lower-cases the first letter of a word that is not fixed.
    fn recase_first(&mut self, upper: bool) {
        let mut chars = self.text.chars();
        if let (false, Some(c)) = (self.fixed, chars.next()) {
            let head: String = if upper { c.to_uppercase().collect() } else { c.to_lowercase().collect() };
            self.text = head + chars.as_str();
        }
    }
}

#[derive(Clone, Debug)]
struct Sentence {
    words: Vec<Word>,
    /// Punctuation after the last word: "", ".", "?" or "!".
    end: String,
    /// Whether the first word is still the template's imperative verb.
    imperative: bool,
}

impl Sentence {
    fn render(&self) -> String {
        let words: Vec<String> = self.words.iter().map(|w| format!("{}{}", w.text, w.trail)).collect();
        words.join(" ") + &self.end
    }
}

/// Plain English: letters (or `-`, `'`), upper case at most the first.
fn is_prose(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_alphabetic)
        && chars.all(|c| (c.is_alphabetic() && !c.is_uppercase()) || c == '-' || c == '\'')
}

fn parse(prompt: &str, keep: &[&str]) -> Sentence {
    let keep: Vec<String> = keep.iter().flat_map(|k| k.split_whitespace()).map(str::to_lowercase).collect();
    let tokens: Vec<&str> = prompt.split_whitespace().collect();
    let mut end = String::new();
    let mut words = Vec::new();
    for (i, &token) in tokens.iter().enumerate() {
        let mut core = token;
        if i + 1 == tokens.len() {
            let bare = core.trim_end_matches(['?', '!']);
            let bare = bare.strip_suffix('.').filter(|b| is_prose(b)).unwrap_or(bare);
            if !bare.is_empty() {
                end = core[bare.len()..].to_string();
                core = bare;
            }
        }
        let stem = core.trim_end_matches([',', ';']);
        let stem = if stem.is_empty() { core } else { stem };
        let kept = keep.iter().any(|k| *k == stem.to_lowercase() || *k == core.to_lowercase());
        let name = i > 0 && stem.starts_with(char::is_uppercase) && stem != "I" && !stem.starts_with("I'");
        let fixed = kept || name || !is_prose(stem);
        words.push(Word { text: stem.to_string(), trail: core[stem.len()..].to_string(), fixed });
    }
    let first = words.first().map(Word::lower).unwrap_or_default();
    let imperative = classify(&words).is_some() && !["a", "an", "i", "what", "what's"].contains(&first.as_str());
    Sentence { words, end, imperative }
}

#[derive(Clone, Copy)]
enum Lead {
    /// A verb of making (or none) before a noun phrase, of this many words.
    Noun(usize),
    /// "What is", of this many words.
    What(usize),
    /// Another imperative verb.
    Verb,
}

fn classify(words: &[Word]) -> Option<Lead> {
    let plain = |i: usize| words.get(i).filter(|w| !w.fixed && w.trail.is_empty()).map(Word::lower);
    let first = plain(0)?;
    let lead = match (first.as_str(), plain(1).unwrap_or_default().as_str()) {
        ("give", "me") | ("i", "need" | "want") => Lead::Noun(2),
        ("make", "a" | "an") => Lead::Noun(1),
        ("write" | "create" | "build" | "generate" | "define" | "declare" | "implement", _) => Lead::Noun(1),
        ("a" | "an", _) => Lead::Noun(0),
        ("what", "is") => Lead::What(2),
        ("what's", _) => Lead::What(1),
        (verb, _) if words[0].text.starts_with(char::is_uppercase) && !NOT_VERBS.contains(&verb) => Lead::Verb,
        _ => return None,
    };
    let skip = match lead {
        Lead::Noun(k) | Lead::What(k) => k,
        Lead::Verb => 1,
    };
    (words.len() > skip).then_some(lead)
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Synonyms,
    Lead,
    Fillers,
    Case,
}

fn variant(original: &Sentence, rng: &mut SplitMix64) -> String {
    let mut s = original.clone();
    let typo = rng.next_f64() < 0.25;
    let mut kinds = [Kind::Synonyms, Kind::Lead, Kind::Fillers, Kind::Case];
    rng.shuffle(&mut kinds);
    let count = if typo { rng.below(3) } else { 1 + rng.below(3) };
    let mut chosen = kinds[..count].to_vec();
    chosen.sort();
    for kind in chosen {
        match kind {
            Kind::Synonyms => swap_synonyms(&mut s.words, rng),
            Kind::Lead => change_lead(&mut s, rng),
            Kind::Fillers => add_fillers(&mut s, rng),
            Kind::Case => change_case(&mut s.words, rng),
        }
    }
    if typo {
        add_typo(&mut s.words, rng);
    }
    s.render()
}

/// Replaces a random non-empty subset of the synonym-table matches.
fn swap_synonyms(words: &mut Vec<Word>, rng: &mut SplitMix64) {
    let mut matches = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let found = SYNONYMS.iter().find(|(pattern, _)| matches_at(words, i, pattern));
        let len = found.map_or(1, |(pattern, _)| pattern.split(' ').count());
        if let Some((_, replacements)) = found {
            matches.push((i, len, replacements[rng.below(replacements.len())]));
        }
        i += len;
    }
    if matches.is_empty() {
        return;
    }
    let forced = rng.below(matches.len());
    for (k, &(at, len, replacement)) in matches.iter().enumerate().rev() {
        if k != forced && rng.below(2) == 0 {
            continue;
        }
        let mut new: Vec<Word> = replacement.split(' ').map(Word::prose).collect();
        new.last_mut().unwrap().trail = words[at + len - 1].trail.clone();
        new[0].recase_first(words[at].text.starts_with(char::is_uppercase));
        words.splice(at..at + len, new);
    }
}

/// Whether the words from `at` on are `pattern`: not fixed, no punctuation inside.
fn matches_at(words: &[Word], at: usize, pattern: &str) -> bool {
    let pattern: Vec<&str> = pattern.split(' ').collect();
    let span = words.get(at..at + pattern.len()).unwrap_or_default();
    span.len() == pattern.len()
        && span
            .iter()
            .zip(&pattern)
            .enumerate()
            .all(|(j, (w, p))| !w.fixed && w.lower() == *p && (j + 1 == pattern.len() || w.trail.is_empty()))
}

fn change_lead(s: &mut Sentence, rng: &mut SplitMix64) {
    let Some(lead) = classify(&s.words) else { return };
    let (skip, leads) = match lead {
        Lead::Noun(k) => (k, NOUN_LEADS),
        Lead::What(k) => (k, WHAT_LEADS),
        Lead::Verb => (0, VERB_LEADS),
    };
    let text = leads[rng.below(leads.len())];
    let mut rest = s.words.split_off(skip);
    if text.is_empty() {
        let article = matches!(rest[0].lower().as_str(), "a" | "an" | "the") && !rest[0].fixed;
        if article && rest.len() > 1 && rng.below(2) == 0 {
            rest.remove(0);
        }
        rest[0].recase_first(rng.below(2) == 0);
    } else {
        rest[0].recase_first(false);
    }
    s.words = text.split(' ').filter(|w| !w.is_empty()).map(Word::prose).chain(rest).collect();
    if rng.next_f64() < ask_chance(text, matches!(lead, Lead::What(_))) {
        s.end = "?".into();
    } else if s.end == "?" {
        s.end.clear();
    }
    s.imperative = false;
}

/// One or two of: drop articles, add "please", say WGSL, change the end punctuation.
fn add_fillers(s: &mut Sentence, rng: &mut SplitMix64) {
    for _ in 0..1 + rng.below(2) {
        match rng.below(4) {
            0 => {
                let share = if rng.below(3) == 0 { 1.0 } else { 0.5 };
                let words = std::mem::take(&mut s.words);
                for (i, word) in words.iter().enumerate() {
                    let lower = word.lower();
                    let droppable = !word.fixed
                        && word.trail.is_empty()
                        && words.get(i + 1).is_some_and(|next| {
                            lower == "the"
                                || ((lower == "a" || lower == "an") && !FUNCTION_WORDS.contains(&&*next.lower()))
                        });
                    if !(droppable && rng.next_f64() < share) {
                        s.words.push(word.clone());
                    }
                }
            }
            1 if !s.words.iter().any(|w| w.lower() == "please") => {
                if s.imperative && !s.words[0].fixed && rng.below(2) == 0 {
                    s.words[0].recase_first(false);
                    s.words.insert(0, Word::prose("Please"));
                    s.imperative = false;
                } else {
                    let last = s.words.last_mut().unwrap();
                    if last.trail.is_empty() && rng.below(2) == 0 {
                        last.trail.push(',');
                    }
                    s.words.push(Word::prose("please"));
                }
            }
            2 if !s.words.iter().any(|w| w.lower().contains("wgsl") || w.lower().contains("webgpu")) => {
                let tag = WGSL_TAGS[rng.below(WGSL_TAGS.len())].split(' ');
                let tag = tag.map(|w| Word { fixed: !is_prose(w), ..Word::prose(w) });
                let noun = s.words.windows(2).position(|pair| {
                    let noun = matches!(pair[0].lower().as_str(), "shader" | "kernel" | "function");
                    let next = matches!(pair[1].lower().as_str(), "that" | "which" | "with" | "returning" | "whose");
                    noun && next && !pair[0].fixed && pair[0].trail.is_empty()
                });
                let at = noun.filter(|_| rng.below(2) == 0).map_or(s.words.len(), |i| i + 1);
                s.words.splice(at..at, tag);
            }
            3 if s.end != "?" => {
                let last = s.words.last().unwrap();
                if !s.end.is_empty() {
                    s.end.clear();
                } else if !last.fixed && last.trail.is_empty() {
                    s.end = if rng.below(10) < 7 { "." } else { "!" }.into();
                }
            }
            _ => {}
        }
    }
}

/// All lower case, or just the first letter.
fn change_case(words: &mut [Word], rng: &mut SplitMix64) {
    if rng.below(5) < 3 {
        for word in words.iter_mut().filter(|w| !w.fixed) {
            word.text = word.text.to_lowercase();
        }
    } else {
        words[0].recase_first(false);
    }
}

/// One typo in a plain word of five letters or more: two inner letters swapped, an inner letter
/// dropped, or a letter doubled.
fn add_typo(words: &mut [Word], rng: &mut SplitMix64) {
    let candidates: Vec<usize> = (0..words.len())
        .filter(|&i| {
            let w = &words[i];
            !w.fixed
                && w.text.len() >= 5
                && w.text.chars().all(|c| c.is_ascii_alphabetic())
                && !NO_TYPO.contains(&&*w.lower())
        })
        .collect();
    if candidates.is_empty() {
        return;
    }
    let word = &mut words[candidates[rng.below(candidates.len())]];
    let chars: Vec<char> = word.text.chars().collect();
    let n = chars.len();
    for _ in 0..8 {
        let mut typo = chars.clone();
        match rng.below(3) {
            0 => {
                let at = 1 + rng.below(n - 3);
                typo.swap(at, at + 1);
            }
            1 => {
                typo.remove(1 + rng.below(n - 2));
            }
            _ => {
                let at = 1 + rng.below(n - 1);
                typo.insert(at, typo[at]);
            }
        }
        if typo != chars {
            word.text = typo.into_iter().collect();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prompts like the generator's, with their keep words.
    const PROMPTS: &[(&str, &[&str])] = &[
        ("Write a fragment shader that fills the screen with teal at opacity 0.5", &["teal", "0.5"]),
        ("Give me red as a vec3", &["red"]),
        ("Make a vec2 of (0.25, 1.0)", &["0.25", "1.0"]),
        (
            "Create a compute shader that multiplies every value in the storage buffer at binding 1 by 2.0, using workgroups of 64",
            &["scale", "2.0", "64", "1"],
        ),
        ("Extract xy from the vector dir", &["xy", "dir"]),
        ("What is orange in RGB", &["orange"]),
        ("Write a fragment shader with a horizontal gradient from red to blue", &["horizontal", "red", "blue"]),
        ("Write a fragment shader that fades from black to white along uv.x", &["x", "black", "white"]),
        (
            "Make a fragment shader that tints the sampled texture with green; texture at @binding(0), sampler at @binding(1)",
            &["green", "0", "1"],
        ),
        (
            "Create a vertex shader that multiplies the 3D position by uniforms.mvp, bound at @group(0) @binding(2)",
            &["mvp", "0", "2"],
        ),
        ("Write a fragment shader that returns textureSample(t_diffuse, s_diffuse, uv) as a vec4<f32>", &[]),
        ("Make a fragment shader that outputs a uniform color; the Material uniform sits at group 1, binding 0", &["1", "0"]),
        ("Add the vectors a and b", &["a", "b"]),
        ("Compute the dot product of a and b", &["a", "b"]),
        ("Make v unit length", &["v"]),
        ("Clamp x between 0.0 and 1.0", &["x", "0.0", "1.0"]),
    ];

    fn tokens(text: &str) -> Vec<&str> {
        text.split_whitespace().map(|t| t.trim_end_matches([',', ';', '?', '!', '.'])).collect()
    }

    fn count(text: &str, token: &str) -> usize {
        tokens(text).iter().filter(|t| **t == token).count()
    }

    /// The numbers of a text, sorted: runs of digits and dots that start with a digit.
    fn numbers(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut run = String::new();
        for c in text.chars().chain([' ']) {
            if c.is_ascii_digit() || (c == '.' && !run.is_empty()) {
                run.push(c);
            } else if !run.is_empty() {
                found.push(run.trim_end_matches('.').to_string());
                run.clear();
            }
        }
        found.sort();
        found
    }

    fn all_rewrites(seeds: u64) -> Vec<(&'static str, String)> {
        let mut all = Vec::new();
        for seed in 0..seeds {
            let mut rng = SplitMix64::new(seed);
            for &(prompt, keep) in PROMPTS {
                all.extend(rephrase(prompt, keep, 4, &mut rng).into_iter().map(|r| (prompt, r)));
            }
        }
        all
    }

    /// Words the rewrites may use besides the prompt's own: a word outside them is a typo.
    fn vocabulary(prompt: &str) -> Vec<String> {
        let leads = NOUN_LEADS.iter().chain(VERB_LEADS).chain(WHAT_LEADS).copied();
        let synonyms = SYNONYMS.iter().flat_map(|(_, replacements)| replacements.iter().copied());
        let phrases = leads.chain(synonyms).chain(WGSL_TAGS.iter().copied()).chain(["please", prompt]);
        phrases.flat_map(|p| tokens(p).into_iter().map(str::to_lowercase).collect::<Vec<_>>()).collect()
    }

    #[test]
    fn same_seed_same_rewrites_all_distinct_and_new() {
        for &(prompt, keep) in PROMPTS {
            let a = rephrase(prompt, keep, 6, &mut SplitMix64::new(11));
            assert_eq!(a, rephrase(prompt, keep, 6, &mut SplitMix64::new(11)));
            assert_eq!(a.len(), 6, "{prompt}: {a:?}");
            for (i, rewrite) in a.iter().enumerate() {
                assert_ne!(rewrite, prompt);
                assert!(!a[..i].contains(rewrite), "{prompt}: {a:?}");
            }
        }
    }

    #[test]
    fn values_numbers_and_code_survive_in_clean_text() {
        for (prompt, rewrite) in all_rewrites(100) {
            let keep = PROMPTS.iter().find(|(p, _)| *p == prompt).unwrap().1;
            assert!(!rewrite.is_empty() && rewrite.trim() == rewrite, "{rewrite:?}");
            assert!(!rewrite.contains("  ") && !rewrite.contains(['{', '}']), "{rewrite:?}");
            assert_eq!(numbers(&rewrite), numbers(prompt), "{prompt} -> {rewrite}");
            let code = tokens(prompt).into_iter().filter(|t| !is_prose(t) || keep.contains(t));
            for token in code.collect::<Vec<_>>() {
                assert!(count(&rewrite, token) >= count(prompt, token), "{token}: {prompt} -> {rewrite}");
            }
            let vocabulary = vocabulary(prompt);
            let typos = tokens(&rewrite).into_iter().filter(|t| !vocabulary.contains(&t.to_lowercase())).count();
            assert!(typos <= 1, "{prompt} -> {rewrite}");
        }
    }

    #[test]
    fn rewrites_cover_every_kind() {
        let all = all_rewrites(50);
        let lowercase = all.iter().any(|(_, r)| !r.contains(char::is_uppercase));
        let typo = all.iter().any(|(p, r)| {
            let vocabulary = vocabulary(p);
            tokens(r).into_iter().any(|t| !vocabulary.contains(&t.to_lowercase()))
        });
        let leads = ["i need", "how do i", "can you", "fragment shader", "a fragment shader", "pixel shader"];
        let lead = all
            .iter()
            .any(|(p, r)| p.starts_with("Write a fragment") && leads.iter().any(|l| r.to_lowercase().starts_with(l)));
        let question = all.iter().any(|(p, r)| !p.ends_with('?') && r.ends_with('?'));
        let synonym = all.iter().any(|(_, r)| r.contains("pixel shader") || r.contains("each element"));
        assert!(lowercase && typo && lead && question && synonym, "{lowercase} {typo} {lead} {question} {synonym}");
    }

    #[test]
    fn unnamed_requests_say_what_the_shader_does() {
        let cases: &[(&str, &[&str], Option<&str>)] = &[
            (PROMPTS[0].0, PROMPTS[0].1, Some("Fill the screen with teal at opacity 0.5")),
            (
                PROMPTS[3].0,
                PROMPTS[3].1,
                Some("Multiply every value in the storage buffer at binding 1 by 2.0, using workgroups of 64"),
            ),
            (PROMPTS[6].0, PROMPTS[6].1, Some("A horizontal gradient from red to blue")),
            (
                PROMPTS[9].0,
                PROMPTS[9].1,
                Some("Multiply the 3D position by uniforms.mvp, bound at @group(0) @binding(2)"),
            ),
            (
                "Create a vertical red to blue gradient fragment shader",
                &["red", "blue"],
                Some("Create a vertical red to blue gradient"),
            ),
            (
                "Make a vertex shader applying the mvp matrix from the uniform",
                &["mvp"],
                Some("Apply the mvp matrix from the uniform"),
            ),
            ("I need a compute shader that passes data on", &[], Some("Pass data on")),
            (
                "Write a fragment shader that samples a texture and tints it red, with the texture at binding 1",
                &["red", "1"],
                Some("Sample a texture and tint it red, with the texture at binding 1"),
            ),
            // A value request without the shader, a dropped slot or number, another shape: none.
            ("Write a fragment shader that outputs solid red", &["red"], None),
            ("Make a compute shader (workgroup size 64) that squares every value", &["64"], None),
            ("Create a compute shader with 8 by 8 workgroups that writes red", &["8", "red"], None),
            ("Create a red fragment shader", &["red"], None),
            (PROMPTS[1].0, PROMPTS[1].1, None),
            ("Wrap the value x in a fragment shader", &["x"], None),
        ];
        for &(prompt, keep, expected) in cases {
            assert_eq!(unnamed(prompt, keep).as_deref(), expected, "{prompt}");
        }
    }

    #[test]
    fn no_rewrites_of_code_blocks() {
        let mut rng = SplitMix64::new(1);
        assert!(rephrase("Wrap this:\nfn main() {}", &[], 3, &mut rng).is_empty());
    }
}
