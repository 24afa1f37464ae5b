//! WGSL validation with naga: whole modules ([`validate_module`]), and the fragments a dataset
//! holds or a model writes ([`validate_snippet`], which wraps them in a harness first).
//!
//! Diagnostics are 1-based and always point into the text the caller gave, never into a harness.
//! naga stops at its first error, so a failing input yields exactly one diagnostic.

pub mod prefix;
mod snippet;

pub use snippet::{snippet_shape, validate_snippet, without_comments, SnippetShape};

use std::ops::Range;

use naga::front::wgsl::ParseError;
use naga::valid::{Capabilities, ValidationError, ValidationFlags, Validator};
use naga::WithSpan;

use crate::text::{line_col, one_line};

/// One problem in a piece of WGSL. `line` and `column` are 1-based; `column` counts characters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Diagnostic {
    /// `file:line:col: message`, the form editors and terminals turn into links.
    pub fn render(&self, file: &str) -> String {
        format!("{file}:{}:{}: {}", self.line, self.column, self.message)
    }
}

/// Parses and validates a whole module; an empty vec means it is valid.
pub fn validate_module(source: &str) -> Vec<Diagnostic> {
    match check(source) {
        Ok(()) => Vec::new(),
        Err(failure) => vec![failure.diagnostic(source, 0..source.len())],
    }
}

/// Whether `code` parses as a module with at least one `@vertex`, `@fragment` or `@compute`
/// entry point. It need not validate: that is [`validate_snippet`]'s job.
pub fn is_full_shader(code: &str) -> bool {
    parse(code).is_ok_and(|module| !module.entry_points.is_empty())
}

/// The entry points' stages (`"vertex"`, `"fragment"`, `"compute"`, else `"other"`; in the module's order) and the
/// number of other functions of code that parses as a module; None when it does not parse.
pub fn module_outline(code: &str) -> Option<(Vec<&'static str>, usize)> {
    let module = parse(code).ok()?;
    let stages = module
        .entry_points
        .iter()
        .map(|e| match e.stage {
            naga::ShaderStage::Vertex => "vertex",
            naga::ShaderStage::Fragment => "fragment",
            naga::ShaderStage::Compute => "compute",
            _ => "other",
        })
        .collect();
    Some((stages, module.functions.len()))
}

/// Whether code that parses as a module declares nothing at all (only `;`, directives and
/// comments). Told by its words: naga keeps no trace of an unused `const` or `alias`.
pub fn declares_nothing(code: &str) -> bool {
    const DECLARATIONS: [&str; 7] = ["fn", "var", "const", "override", "struct", "alias", "const_assert"];
    parse(code).is_ok()
        && !crate::tokenizer::pieces(&without_comments(code)).iter().any(|piece| DECLARATIONS.contains(piece))
}

/// Why naga rejected a text, with byte spans into that text.
struct Failure {
    message: String,
    /// The parser's primary span, or every span the validator attached (outer to inner).
    spans: Vec<Range<usize>>,
    /// The parser met a name with no declaration; `spans[0]` is that name.
    unknown_identifier: bool,
    /// The parser accepted the text and the validator rejected it.
    parsed: bool,
}

impl Failure {
    /// Places the failure in the caller's code, which sits at `user` inside `text`. Of several
    /// spans the narrowest inside the caller's code wins: the validator's outer spans cover a
    /// whole (harness) function and say little.
    fn diagnostic(&self, text: &str, user: Range<usize>) -> Diagnostic {
        let inside = |s: &&Range<usize>| s.start >= user.start && s.end <= user.end;
        let narrowest_inside = self.spans.iter().filter(inside).min_by_key(|s| s.len());
        let span = narrowest_inside.or_else(|| self.spans.iter().min_by_key(|s| s.len()));
        let offset = span.map_or(user.start, |s| s.start).clamp(user.start, user.end) - user.start;
        let code = &text[user];
        let (line, column) = line_col(code, offset);
        Diagnostic { line, column, message: self.message.clone() }
    }
}

fn check(source: &str) -> Result<(), Failure> {
    validate(&parse(source)?)
}

fn validate(module: &naga::Module) -> Result<(), Failure> {
    guarded(|| {
        let mut validator = Validator::new(ValidationFlags::all(), Capabilities::default());
        validator.validate(module).map(drop).map_err(|e| validation_failure(&e))
    })?
}

/// The longest text handed to naga: a shader of the corpus is a few kilobytes.
pub const MAX_SHADER_BYTES: usize = 1 << 20;

/// The stack naga runs on: its front end and validator recurse once per term of a long chain
/// (`1.0 + 1.0 + ...`, `v.x.x...`), which overflowed the main thread's 8 MiB at some 30,000
/// terms; a text of [`MAX_SHADER_BYTES`] holds at most ~200,000.
const NAGA_STACK_BYTES: usize = 512 << 20;

/// The name of the thread naga runs on (the fuzzer lets a panic there through: it is caught).
pub const NAGA_THREAD: &str = "naga";

fn parse(source: &str) -> Result<naga::Module, Failure> {
    if source.len() > MAX_SHADER_BYTES {
        return Err(Failure {
            message: format!(
                "the text is {} bytes, more than the {} KiB a shader may be here",
                source.len(),
                MAX_SHADER_BYTES >> 10
            ),
            spans: Vec::new(),
            unknown_identifier: false,
            parsed: false,
        });
    }
    guarded(|| naga::front::wgsl::parse_str(source).map_err(|e| parse_failure(&e)))?
}

/// The validator's headline and its chain of causes, which hold the specifics.
fn validation_failure(error: &WithSpan<ValidationError>) -> Failure {
    let mut chain = vec![error.as_inner().to_string()];
    let mut cause: &dyn std::error::Error = error.as_inner();
    while let Some(next) = cause.source() {
        chain.push(next.to_string());
        cause = next;
    }
    Failure {
        message: one_line(&chain.join(": ")),
        spans: error.spans().filter_map(|(span, _)| span.to_range()).collect(),
        unknown_identifier: false,
        parsed: true,
    }
}

/// The parser's headline, then what its secondary labels say (e.g. "argument #1 has type `f32`"),
/// then its note when there is just one: longer note lists enumerate every overload.
fn parse_failure(error: &ParseError) -> Failure {
    let mut message = error.message().to_string();
    for (_, label) in error.labels().skip(1).filter(|(_, label)| !label.is_empty()) {
        message.push_str("; ");
        message.push_str(label);
    }
    if let [note] = error.notes().collect::<Vec<_>>()[..] {
        message.push_str("; ");
        message.push_str(note);
    }
    Failure {
        message: one_line(&message),
        spans: error.labels().next().and_then(|(span, _)| span.to_range()).into_iter().collect(),
        unknown_identifier: error.message().starts_with("no definition in scope for identifier"),
        parsed: false,
    }
}

/// naga is a third-party parser fed with whatever a model writes: it runs on a thread with a
/// large stack ([`NAGA_STACK_BYTES`]), and a panic in it becomes a diagnostic rather than taking
/// down a training run.
fn guarded<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, Failure> {
    let failure = |message: String| Failure { message, spans: Vec::new(), unknown_identifier: false, parsed: false };
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(NAGA_THREAD.into())
            .stack_size(NAGA_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| failure(format!("no thread to run naga on ({e})")))?;
        handle.join().map_err(|_| failure("naga panicked on this input (a naga bug); treat it as invalid".into()))
    })
}
