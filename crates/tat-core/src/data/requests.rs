//! Requests for WGSL as people write them (`config/wgsl_free_requests.toml`): each names the kind
//! of answer it wants and what makes an answer right, instead of one reference answer. The file's
//! header describes the fields; [`judge`] applies them.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::wgsl::{at, deserialize_toml};
use crate::error::{read_text, Result, TatError};
use crate::eval::normalise_whitespace;
use crate::text::line_col;
use crate::wgsl::{
    declares_nothing, module_outline, snippet_shape, validate_module, validate_snippet, Diagnostic, SnippetShape,
};

/// The shape of a right answer, which decides how an answer is validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One expression, validated as a snippet.
    Expression,
    /// Statements, validated as a snippet.
    Statement,
    /// `fn` declarations (and structs) with no entry point, validated as a module.
    Function,
    /// A whole module, validated by naga as it is.
    Module,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Expression => "expression",
            Kind::Statement => "statement",
            Kind::Function => "function",
            Kind::Module => "module",
        }
    }
}

/// The entry point a module request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Vertex,
    Fragment,
    Compute,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Vertex => "vertex",
            Stage::Fragment => "fragment",
            Stage::Compute => "compute",
        }
    }

    /// The stage [`Stage::name`] spells `name`.
    pub fn from_name(name: &str) -> Option<Stage> {
        [Stage::Vertex, Stage::Fragment, Stage::Compute].into_iter().find(|s| s.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub request: String,
    pub kind: Kind,
    pub category: String,
    pub stage: Option<Stage>,
    /// Answers taken as exact, compared after whitespace is normalised.
    pub accepted: Vec<String>,
    /// Groups of strings; a right answer, all whitespace removed, holds one string of each group.
    pub requires: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    request: Spanned<String>,
    kind: Kind,
    category: String,
    #[serde(default)]
    stage: Option<Stage>,
    #[serde(default)]
    accepted: Vec<Spanned<String>>,
    #[serde(default)]
    requires: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    requests: Vec<RawRequest>,
}

const SCHEMA: &str = "each [[requests]] table holds request, kind (\"expression\", \"statement\", \"function\" or \
                      \"module\") and category, and optionally stage (\"vertex\", \"fragment\" or \"compute\", modules \
                      only), accepted (a list of answers) and requires (a list of lists of strings)";

/// Reads a request file and checks it: every request present and unique, a stage only on module
/// requests, no empty group in `requires`, and every accepted answer right by [`judge`] (an answer
/// the file accepts must validate as its kind).
pub fn load_requests(path: &Path) -> Result<Vec<Request>> {
    let text = read_text(path, TatError::Dataset)?;
    let file = path.display();
    let raw: RawFile = deserialize_toml(path, &text, SCHEMA)?;
    if raw.requests.is_empty() {
        return Err(TatError::Dataset(format!("{file}: no [[requests]] tables; {SCHEMA}")));
    }
    let mut problems = Vec::new();
    let mut first_seen: HashMap<String, (usize, usize)> = HashMap::new();
    let mut requests = Vec::with_capacity(raw.requests.len());
    for (i, r) in raw.requests.into_iter().enumerate() {
        let place = at(&text, Some(r.request.span()));
        let request = Request {
            request: r.request.get_ref().trim().to_string(),
            kind: r.kind,
            category: r.category.trim().to_string(),
            stage: r.stage,
            accepted: r.accepted.iter().map(|a| a.get_ref().trim().to_string()).collect(),
            requires: r.requires,
        };
        if request.request.is_empty() || request.category.is_empty() {
            problems.push(format!("{place}: requests[{i}]: an empty request or category; write what a user asks"));
        }
        if let Some(&(j, line)) = first_seen.get(&request.request) {
            problems.push(format!(
                "{place}: requests[{i}].request: {:?} repeats requests[{j}] (line {line}); every request must be unique",
                request.request
            ));
        } else {
            first_seen.insert(request.request.clone(), (i, line_col(&text, r.request.span().start).0));
        }
        if request.stage.is_some() && request.kind != Kind::Module {
            problems.push(format!("{place}: requests[{i}].stage: only a module request names a stage; remove it"));
        }
        if request.requires.iter().any(|group| group.is_empty() || group.iter().any(|s| s.trim().is_empty())) {
            problems.push(format!(
                "{place}: requests[{i}].requires: an empty group or string; each group lists the strings of which \
                 a right answer holds one"
            ));
        }
        for (k, answer) in r.accepted.iter().enumerate() {
            let verdict = judge(&request, answer.get_ref());
            if !verdict.right {
                problems.push(format!(
                    "{}: requests[{i}].accepted[{k}]: the file's own answer is not right: {}. Fix: correct the answer \
                     (or the request's kind and stage).",
                    at(&text, Some(answer.span())),
                    verdict.why.unwrap_or_default()
                ));
            }
        }
        requests.push(request);
    }
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("{file}{p}")).collect();
        return Err(TatError::Dataset(list.join("\n")));
    }
    Ok(requests)
}

/// What [`judge`] found of one answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// naga accepts the answer as its kind asks: a snippet for expressions and statements, a
    /// module for functions and modules.
    pub valid: bool,
    /// Valid, of the kind asked for (an expression, not a `let`; functions, no entry point) and
    /// with the stage asked for.
    pub right_kind: bool,
    /// Equal to an accepted answer (whitespace normalised).
    pub exact: bool,
    /// Right: of the right kind, and exact or holding every group of `requires` (or valid, for a
    /// request that lists neither).
    pub right: bool,
    /// Why the answer is not right, in words; None when it is.
    pub why: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Judges one answer to a request (see [`Verdict`]).
pub fn judge(request: &Request, answer: &str) -> Verdict {
    let diagnostics = match request.kind {
        Kind::Expression | Kind::Statement => validate_snippet(answer),
        Kind::Function | Kind::Module => validate_module(answer),
    };
    let valid = diagnostics.is_empty();
    let wrong_kind = if !valid {
        Some(format!("naga rejects it: {}", diagnostics.first().map_or("", |d| d.message.as_str())))
    } else {
        kind_problem(request.kind, request.stage, answer)
    };
    let exact = request.accepted.iter().any(|a| normalise_whitespace(a) == normalise_whitespace(answer));
    let squeezed: String = answer.chars().filter(|c| !c.is_whitespace()).collect();
    let missing: Vec<&Vec<String>> = request
        .requires
        .iter()
        .filter(|group| {
            !group.iter().any(|s| squeezed.contains(&s.chars().filter(|c| !c.is_whitespace()).collect::<String>()))
        })
        .collect();
    let meets = if request.requires.is_empty() { request.accepted.is_empty() } else { missing.is_empty() };
    let why = wrong_kind.clone().or_else(|| {
        (!exact && !meets).then(|| match missing.first() {
            Some(group) => {
                format!("it holds none of {}", group.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
            }
            None => "it is none of the accepted answers".to_string(),
        })
    });
    Verdict { valid, right_kind: wrong_kind.is_none(), exact, right: why.is_none(), why, diagnostics }
}

/// Whether `answer` is valid WGSL of `kind` (and has an entry point of `stage`, when given), as
/// [`judge`] decides it: what constrained decoding finishes on.
pub fn valid_as(kind: Kind, stage: Option<Stage>, answer: &str) -> bool {
    let diagnostics = match kind {
        Kind::Expression | Kind::Statement => validate_snippet(answer),
        Kind::Function | Kind::Module => validate_module(answer),
    };
    diagnostics.is_empty() && kind_problem(kind, stage, answer).is_none()
}

/// Why valid code is not of the kind (or stage) asked for; None when it is.
fn kind_problem(kind: Kind, stage: Option<Stage>, answer: &str) -> Option<String> {
    let shape = snippet_shape(answer);
    match kind {
        Kind::Expression if shape != SnippetShape::Expression => {
            Some(format!("an expression was asked for, not {}", shape_name(shape)))
        }
        Kind::Statement if shape != SnippetShape::Statements => {
            Some(format!("statements were asked for, not {}", shape_name(shape)))
        }
        Kind::Function => match module_outline(answer) {
            Some((stages, _)) if !stages.is_empty() => {
                Some("a function was asked for, not a shader with an entry point".into())
            }
            Some((_, 0)) | None => Some("a function was asked for, and the module declares none".into()),
            Some(_) => None,
        },
        Kind::Module if declares_nothing(answer) => Some("a module was asked for, and this declares nothing".into()),
        Kind::Module => {
            let stage = stage?;
            let (stages, _) = module_outline(answer)?;
            (!stages.contains(&stage.name())).then(|| {
                let found = if stages.is_empty() { "no entry point".to_string() } else { stages.join(", ") };
                format!("a {} shader was asked for; the module has {found}", stage.name())
            })
        }
        _ => None,
    }
}

fn shape_name(shape: SnippetShape) -> &'static str {
    match shape {
        SnippetShape::Declarations => "declarations",
        SnippetShape::Statements => "statements",
        SnippetShape::Expression => "an expression",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(kind: Kind, stage: Option<Stage>, accepted: &[&str], requires: &[&[&str]]) -> Request {
        Request {
            request: "r".into(),
            kind,
            category: "c".into(),
            stage,
            accepted: accepted.iter().map(|s| s.to_string()).collect(),
            requires: requires.iter().map(|g| g.iter().map(|s| s.to_string()).collect()).collect(),
        }
    }

    const BLUE: &str = "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec4<f32>(0.0, 0.0, 1.0, 1.0);\n}";

    #[test]
    fn a_module_is_right_with_its_stage_and_what_it_requires() {
        let blue = request(Kind::Module, Some(Stage::Fragment), &[], &[&["(0.0,0.0,1.0,1.0)"]]);
        let verdict = judge(&blue, BLUE);
        assert!(verdict.valid && verdict.right, "{verdict:?}");
        let red = BLUE.replace("0.0, 0.0, 1.0", "1.0, 0.0, 0.0");
        let verdict = judge(&blue, &red);
        assert!(verdict.valid && verdict.right_kind && !verdict.right, "{verdict:?}");
        assert!(verdict.why.as_deref().is_some_and(|w| w.contains("(0.0,0.0,1.0,1.0)")), "{verdict:?}");
        let compute = request(Kind::Module, Some(Stage::Compute), &[], &[]);
        let verdict = judge(&compute, BLUE);
        assert!(verdict.valid && !verdict.right_kind, "{verdict:?}");
        assert_eq!(verdict.why.as_deref(), Some("a compute shader was asked for; the module has fragment"));
        let verdict = judge(&blue, "return vec4<f32>(0.0, 0.0, 1.0, 1.0);");
        assert!(!verdict.valid && !verdict.right, "a statement is no module: {verdict:?}");
        let any = request(Kind::Module, None, &[], &[]);
        for empty in [";", "  ;\n;", "// nothing\n"] {
            let verdict = judge(&any, empty);
            assert!(verdict.valid && !verdict.right_kind, "{empty:?}: {verdict:?}");
        }
        for something in ["const x = 1.0;", "struct S { a: f32 }", "alias F = f32;", "fn f() {}"] {
            assert!(judge(&any, something).right, "{something:?}");
        }
    }

    #[test]
    fn an_expression_request_takes_an_expression_and_an_accepted_answer() {
        let red = request(Kind::Expression, None, &["vec3<f32>(1.0, 0.0, 0.0)"], &[]);
        assert!(judge(&red, "vec3<f32>(1.0,  0.0,\n0.0)").right);
        let verdict = judge(&red, "vec3<f32>(0.9, 0.0, 0.0)");
        assert!(verdict.valid && verdict.right_kind && !verdict.exact && !verdict.right, "{verdict:?}");
        let verdict = judge(&red, "let red = vec3<f32>(1.0, 0.0, 0.0);");
        assert!(verdict.valid && !verdict.right_kind, "a statement is no expression: {verdict:?}");
    }

    #[test]
    fn a_function_request_wants_a_function_without_an_entry_point() {
        let square = request(Kind::Function, None, &[], &[&["fnsquare("]]);
        assert!(judge(&square, "fn square(x: f32) -> f32 {\n    return x * x;\n}").right);
        assert!(!judge(&square, "x * x").right);
        let verdict = judge(&square, BLUE);
        assert!(verdict.valid && !verdict.right_kind, "{verdict:?}");
    }

    #[test]
    fn the_shipped_request_file_loads_and_its_answers_are_right() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/wgsl_free_requests.toml");
        let requests = load_requests(&path).expect("the shipped file loads");
        assert!(requests.len() >= 150, "{} requests", requests.len());
        let modules = requests.iter().filter(|r| r.kind == Kind::Module).count();
        assert!(modules >= 50, "{modules} module requests");
        // Never trained on: no request is a prompt of a shipped dataset, up to case, spaces,
        // punctuation and articles.
        let bare = |text: &str| -> String {
            let text = text.to_lowercase().replace(|c: char| c.is_ascii_punctuation() && c != '<' && c != '>', " ");
            text.split_whitespace().filter(|w| !["a", "an", "the"].contains(w)).collect::<Vec<_>>().join(" ")
        };
        for data in ["wgsl_training_data.toml", "wgsl_generalise_data.toml", "wgsl_broad_data.toml"] {
            let examples = crate::data::wgsl::load_examples(&path.with_file_name(data)).expect("a shipped dataset");
            let prompts: std::collections::HashSet<String> =
                examples.iter().map(|e| bare(&e.natural_language)).collect();
            for r in &requests {
                assert!(!prompts.contains(&bare(&r.request)), "{:?} is a prompt of {data}", r.request);
            }
        }
    }

    #[test]
    fn a_bad_request_file_names_the_line_and_the_field() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("requests.toml");
        let text = "[[requests]]\nrequest = \"red\"\nkind = \"expression\"\ncategory = \"color\"\n\
                    accepted = [\"vec3<f32>(1.0, 0.0)\"]\n\n[[requests]]\nrequest = \"red\"\nkind = \"expresion\"\n\
                    category = \"color\"\n";
        std::fs::write(&path, text).expect("written");
        let error = load_requests(&path).expect_err("a misspelt kind").to_string();
        assert!(error.contains(":9:") && error.contains("requests[1].kind") && error.contains("expresion"), "{error}");
        std::fs::write(&path, text.replace("expresion", "expression")).expect("written");
        let error = load_requests(&path).expect_err("a wrong answer and a repeat").to_string();
        assert!(error.contains(":5:") && error.contains("requests[0].accepted[0]"), "{error}");
        assert!(error.contains("repeats requests[0] (line 2)"), "{error}");
    }
}
