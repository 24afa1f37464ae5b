//! Validating snippets: the short answers a dataset holds and a model writes, which are often not
//! modules on their own (`normalize(v)`, `let g = dot(color, w);`).
//!
//! The harness rules, in order:
//!
//! 1. Code that parses as a module is validated as one, and nothing else is tried, except that
//!    statements (rule 2) that fail as a module are tried as a function body: `var x = 1.0;` is
//!    a global with no address space at module scope. Code that declares an entry point
//!    (`@vertex`, `@fragment`, `@compute`) is validated as a module only: a whole shader must
//!    stand alone, and an undeclared name in it is an error, not a free name.
//! 2. The shape is read from the code with its comments removed:
//!    - module-level declarations start with `fn`, `struct`, `alias`, `override`, `enable`,
//!      `requires`, `diagnostic` or an `@` attribute, and stay at module scope;
//!    - statements contain a `;` or start with a statement keyword (`let`, `var`, `const`,
//!      `return`, `if`, `for`, `while`, `loop`, `switch`, `discard`, `break`, `continue`, `{`, `_`)
//!      and become the body of `fn _tat_snippet(..) { .. }`, with a return type when some
//!      `return` carries a value;
//!    - anything else is a bare expression and becomes `let _tat_value = (EXPR);` in that body.
//! 3. Free identifiers (naga's "no definition in scope for identifier") are declared by the
//!    harness. In the function shapes: as `var`s at the top of `_tat_snippet`, so that a snippet
//!    may assign to them (`color = color * 0.5;`), and textures and samplers, which no function
//!    `var` can hold, as its parameters. In the module shape: as `var<private>` globals, and
//!    textures and samplers as `@group(3)` bindings. A name followed by `(` is a missing
//!    function and is not declared.
//! 4. Their types (and the return type) are searched among [`Ty::ALL`]: first each name's likely
//!    type (from conventional names: `uv` is a `vec2<f32>`, `tex` a texture, `n` a normal...),
//!    then one type for all, then per-name combinations in order of how unlikely they are. A
//!    name discovered during the search joins it and the search restarts. At most
//!    [`MAX_ATTEMPTS`] naga runs; typical snippets need one to a few.
//! 5. If nothing validates, the diagnostic of the typing naga got furthest with is reported
//!    (past the parser beats stopped in it, then later beats earlier), mapped back to the
//!    caller's line and column: a wrong guess stops naga at a name's first use, which is rarely
//!    where the snippet is wrong. Code with nothing but comments and whitespace is reported empty.

use std::collections::HashSet;
use std::ops::Range;

use super::{check, parse, validate, Diagnostic, Failure};

/// A bound on naga runs per snippet; each takes tens of microseconds on short code.
const MAX_ATTEMPTS: usize = 500;

/// Parses and validates any snippet (see the module doc for the harness); empty = valid.
pub fn validate_snippet(code: &str) -> Vec<Diagnostic> {
    let bare = without_comments(code);
    if bare.trim().is_empty() {
        let message = "empty snippet; expected WGSL code (a module, declarations, statements or an expression)";
        return vec![Diagnostic { line: 1, column: 1, message: message.to_string() }];
    }
    if ["@vertex", "@fragment", "@compute"].iter().any(|stage| bare.contains(stage)) {
        return super::validate_module(code);
    }
    let shape = Shape::of(&bare);
    if shape != Shape::Module {
        if let Ok(module) = parse(code) {
            let failure = validate(&module).err();
            // `var x = 1.0;` parses as a module, where it is a global with no address space;
            // as statements it is a function's variable, which is what it means.
            if shape == Shape::Statements && failure.is_some() {
                return search(code, shape, returns_value(&bare));
            }
            return failure.map(|f| f.diagnostic(code, 0..code.len())).into_iter().collect();
        }
    }
    search(code, shape, shape == Shape::Statements && returns_value(&bare))
}

/// What a piece of code is, read as [`validate_snippet`] reads it (rule 2 of the module doc): a
/// whole shader or module-level declarations, statements, or one expression. It says nothing of
/// whether the code is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SnippetShape {
    Declarations,
    Statements,
    Expression,
}

pub fn snippet_shape(code: &str) -> SnippetShape {
    let bare = without_comments(code);
    if ["@vertex", "@fragment", "@compute"].iter().any(|stage| bare.contains(stage)) {
        return SnippetShape::Declarations;
    }
    match Shape::of(&bare) {
        Shape::Module => SnippetShape::Declarations,
        Shape::Statements => SnippetShape::Statements,
        Shape::Expression => SnippetShape::Expression,
    }
}

/// The candidate types for free names, most common in shader snippets first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ty {
    F32,
    Vec3,
    Vec4,
    Vec2,
    I32,
    U32,
    Bool,
    Mat4,
    Mat3,
    Texture,
    Sampler,
}

impl Ty {
    const ALL: [Ty; 11] = [
        Ty::F32,
        Ty::Vec3,
        Ty::Vec4,
        Ty::Vec2,
        Ty::I32,
        Ty::U32,
        Ty::Bool,
        Ty::Mat4,
        Ty::Mat3,
        Ty::Texture,
        Ty::Sampler,
    ];

    fn wgsl(self) -> &'static str {
        match self {
            Ty::F32 => "f32",
            Ty::Vec3 => "vec3<f32>",
            Ty::Vec4 => "vec4<f32>",
            Ty::Vec2 => "vec2<f32>",
            Ty::I32 => "i32",
            Ty::U32 => "u32",
            Ty::Bool => "bool",
            Ty::Mat4 => "mat4x4<f32>",
            Ty::Mat3 => "mat3x3<f32>",
            Ty::Texture => "texture_2d<f32>",
            Ty::Sampler => "sampler",
        }
    }

    /// Textures and samplers: only bindings and parameters hold them, and no function returns them.
    fn is_handle(self) -> bool {
        matches!(self, Ty::Texture | Ty::Sampler)
    }

    /// The type a conventionally named value usually has, so that common snippets validate on
    /// the first attempt.
    fn hinted_by(name: &str) -> Option<Ty> {
        let name = name.to_ascii_lowercase();
        let has = |part: &str| name.contains(part);
        let is = |names: &[&str]| names.contains(&name.as_str());
        Some(if has("sampler") || is(&["samp", "smp", "s"]) {
            Ty::Sampler
        } else if has("uv") || has("coord") || has("resolution") || has("size") || is(&["st", "xy"]) {
            Ty::Vec2
        } else if has("tex") {
            Ty::Texture
        } else if has("rgba") || has("clip") || is(&["frag_color", "out_color"]) {
            Ty::Vec4
        } else if ["color", "colour", "rgb", "normal", "dir", "pos", "albedo"].iter().any(|part| has(part))
            || is(&["n", "v", "p", "col", "tint", "velocity", "offset"])
        {
            Ty::Vec3
        } else if has("matrix") || is(&["m", "mat", "model", "view", "proj", "mvp", "view_proj", "transform"]) {
            Ty::Mat4
        } else if is(&["i", "j", "k", "idx", "index", "count"]) {
            Ty::I32
        } else {
            return None;
        })
    }
}

/// Where the caller's code goes in the harness. Read from the code without its comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Module,
    Statements,
    Expression,
}

impl Shape {
    fn of(code: &str) -> Shape {
        const MODULE: [&str; 7] = ["fn", "struct", "alias", "override", "enable", "requires", "diagnostic"];
        const STATEMENT: [&str; 14] = [
            "let", "var", "const", "return", "if", "for", "while", "loop", "switch", "discard", "break", "continue",
            "{", "_",
        ];
        let word = first_word(code);
        if word.starts_with('@') || MODULE.contains(&word) {
            Shape::Module
        } else if code.contains(';') || STATEMENT.contains(&word) {
            Shape::Statements
        } else {
            Shape::Expression
        }
    }
}

/// The code with each comment's characters turned into spaces (its line breaks kept), so that
/// words in comments do not decide a snippet's shape and line numbers stay as they were.
pub fn without_comments(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut chars = code.chars().peekable();
    let (mut block_depth, mut in_line_comment) = (0, false);
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if in_line_comment {
            in_line_comment = c != '\n';
        } else if c == '/' && next == Some('*') {
            chars.next();
            block_depth += 1;
        } else if block_depth > 0 {
            if c == '*' && next == Some('/') {
                chars.next();
                block_depth -= 1;
            }
        } else if c == '/' && next == Some('/') {
            in_line_comment = true;
        } else {
            out.push(c);
            continue;
        }
        out.push(if c == '\n' { '\n' } else { ' ' });
    }
    out
}

/// The first identifier, or the first character when the code does not start with one.
fn first_word(code: &str) -> &str {
    let rest = code.trim_start();
    match rest.find(|c: char| !(c.is_alphanumeric() || c == '_')) {
        Some(0) => rest.get(..rest.chars().next().map_or(0, char::len_utf8)).unwrap_or(""),
        Some(end) => &rest[..end],
        None => rest,
    }
}

/// Whether some `return` in the code carries a value, so the harness function needs a return type.
fn returns_value(code: &str) -> bool {
    let is_word_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    code.match_indices("return").any(|(at, word)| {
        let (before, after) = (&code[..at], &code[at + word.len()..]);
        let whole_word = !is_word_char(before.chars().next_back()) && !is_word_char(after.chars().next());
        whole_word && !after.trim_start().starts_with(';')
    })
}

/// Something the harness must give a type: a free name, or (`name: None`) the return type.
struct Slot {
    name: Option<String>,
    /// Candidate types, likeliest first.
    order: Vec<Ty>,
}

impl Slot {
    fn variable(name: String) -> Slot {
        let mut order = Ty::ALL.to_vec();
        if let Some(hint) = Ty::hinted_by(&name) {
            order.retain(|&t| t != hint);
            order.insert(0, hint);
        }
        Slot { name: Some(name), order }
    }

    fn return_type() -> Slot {
        Slot { name: None, order: Ty::ALL.into_iter().filter(|t| !t.is_handle()).collect() }
    }
}

enum Outcome {
    Valid,
    /// A free name to declare, and the diagnostic to report should the search end here.
    Undeclared(String, Diagnostic),
    Invalid(Progress, Diagnostic),
}

/// How far naga got with a typing: past the parser beats stopped in it, then a later position
/// beats an earlier one.
type Progress = (bool, usize, usize);

fn search(code: &str, shape: Shape, returns_value: bool) -> Vec<Diagnostic> {
    let mut slots = Vec::new();
    if returns_value {
        slots.push(Slot::return_type());
    }
    let mut budget = MAX_ATTEMPTS;
    let mut undeclared_report = None;
    loop {
        let mut furthest: Option<(Progress, Diagnostic)> = None;
        let mut discovered = None;
        for types in assignments(&slots, budget) {
            budget -= 1;
            match attempt(code, shape, &slots, &types) {
                Outcome::Valid => return Vec::new(),
                Outcome::Invalid(progress, diagnostic) => {
                    if furthest.as_ref().is_none_or(|(best, _)| progress > *best) {
                        furthest = Some((progress, diagnostic));
                    }
                }
                Outcome::Undeclared(name, diagnostic) => {
                    discovered = Some(name);
                    undeclared_report = Some(diagnostic);
                    break;
                }
            }
        }
        match discovered {
            Some(name) => slots.push(Slot::variable(name)),
            None => return furthest.map(|(_, d)| d).or(undeclared_report).into_iter().collect(),
        }
    }
}

/// Typings to try, in order: every slot's likeliest type, then one type for all, then the rest
/// by increasing total rank. At most `cap` of them, without repeats.
fn assignments(slots: &[Slot], cap: usize) -> Vec<Vec<Ty>> {
    let mut out = Typings { list: Vec::new(), seen: HashSet::new(), cap };
    out.push(slots.iter().map(|s| s.order[0]).collect());
    for ty in Ty::ALL {
        if slots.iter().all(|s| s.order.contains(&ty)) {
            out.push(vec![ty; slots.len()]);
        }
    }
    let max_rank: usize = slots.iter().map(|s| s.order.len() - 1).sum();
    for total in 1..=max_rank {
        if out.is_full() {
            break;
        }
        with_rank_total(slots, &mut Vec::new(), total, &mut out);
    }
    out.list
}

struct Typings {
    list: Vec<Vec<Ty>>,
    seen: HashSet<Vec<Ty>>,
    cap: usize,
}

impl Typings {
    fn push(&mut self, types: Vec<Ty>) {
        if !self.is_full() && self.seen.insert(types.clone()) {
            self.list.push(types);
        }
    }

    fn is_full(&self) -> bool {
        self.list.len() >= self.cap
    }
}

/// Every typing whose ranks (positions in each slot's `order`) add up to `left`.
fn with_rank_total(slots: &[Slot], ranks: &mut Vec<usize>, left: usize, out: &mut Typings) {
    let Some(slot) = slots.get(ranks.len()) else {
        if left == 0 {
            out.push(ranks.iter().zip(slots).map(|(&r, s)| s.order[r]).collect());
        }
        return;
    };
    for rank in 0..=left.min(slot.order.len() - 1) {
        if out.is_full() {
            return;
        }
        ranks.push(rank);
        with_rank_total(slots, ranks, left - rank, out);
        ranks.pop();
    }
}

fn attempt(code: &str, shape: Shape, slots: &[Slot], types: &[Ty]) -> Outcome {
    let (text, user) = harness(code, shape, slots, types);
    let Err(failure) = check(&text) else {
        return Outcome::Valid;
    };
    let diagnostic = failure.diagnostic(&text, user.clone());
    match undeclared_name(&failure, &text, &user, slots) {
        Some(name) => Outcome::Undeclared(name.to_string(), diagnostic),
        None => Outcome::Invalid((failure.parsed, diagnostic.line, diagnostic.column), diagnostic),
    }
}

/// The free name naga complained about, if the harness can declare it: inside the caller's code,
/// not declared already, and not called like a function.
fn undeclared_name<'t>(failure: &Failure, text: &'t str, user: &Range<usize>, slots: &[Slot]) -> Option<&'t str> {
    let span = failure.spans.first().filter(|_| failure.unknown_identifier)?;
    let name = &text[span.clone()];
    let inside = span.start >= user.start && span.end <= user.end;
    let called = text[span.end..].trim_start().starts_with('(');
    let declared = slots.iter().any(|s| s.name.as_deref() == Some(name));
    (inside && !called && !declared).then_some(name)
}

/// The harness text for one typing, and where the caller's code sits in it.
fn harness(code: &str, shape: Shape, slots: &[Slot], types: &[Ty]) -> (String, Range<usize>) {
    let mut globals = String::new();
    let mut params = Vec::new();
    let mut locals = String::new();
    let mut returns = String::new();
    let mut binding = 0;
    for (slot, ty) in slots.iter().zip(types) {
        let ty_name = ty.wgsl();
        match (&slot.name, shape) {
            (None, _) => returns = format!(" -> {ty_name}"),
            (Some(name), Shape::Module) if ty.is_handle() => {
                globals.push_str(&format!("@group(3) @binding({binding}) var {name}: {ty_name};\n"));
                binding += 1;
            }
            (Some(name), Shape::Module) => globals.push_str(&format!("var<private> {name}: {ty_name};\n")),
            (Some(name), _) if ty.is_handle() => params.push(format!("{name}: {ty_name}")),
            (Some(name), _) => locals.push_str(&format!("    var {name}: {ty_name};\n")),
        }
    }
    let head = format!("fn _tat_snippet({}){returns} {{\n{locals}", params.join(", "));
    let (before, after) = match shape {
        Shape::Module => (globals, String::new()),
        Shape::Statements => (head, "\n}\n".to_string()),
        Shape::Expression => (format!("{head}    let _tat_value = ("), "\n);\n}\n".to_string()),
    };
    let user = before.len()..before.len() + code.len();
    (format!("{before}{code}{after}"), user)
}
