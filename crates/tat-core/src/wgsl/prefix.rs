//! Prefix viability for constrained decoding: can a text that a decoder has written so far still
//! be completed into valid WGSL of the kind asked for ([`Goal`])?
//!
//! [`check_prefix`] re-lexes and re-parses the whole text on every call with a hand-written lexer
//! and recursive-descent parser (no naga; a token vector and a few name lists are all it
//! allocates): some 5 µs for a 750-char shader. It answers [`Viability::Dead`] at the first
//! token no continuation can make valid (an unbalanced `)`, `fn main() -> {`, an operator where an
//! expression must start, a `let` at module scope, a second return type...), [`Viability::Complete`]
//! where the text can end (brackets closed, last statement or declaration finished), and
//! [`Viability::Open`] otherwise.
//!
//! # Soundness
//!
//! Dead is only said on a real token that cannot continue the parse: running out of text is
//! never a reason to say Dead. The grammar is kept lenient wherever naga is stricter than a
//! context-free check (operator mixing such as `a & b | c`, which attributes take which
//! arguments, `break` outside a loop, types of values), so that any text naga accepts as a whole
//! (within the subset below) is never Dead at any of its prefixes. The only deliberate exception
//! is the scope rule for values in function bodies (below).
//!
//! # The last lexeme
//!
//! A decoder's token may end mid-lexeme: `vec` on the way to `vec3`, `1` or `0.` on the way to
//! `1.0`, `0x` on the way to `0x1F`, `-` on the way to `->`, `<` to `<=`, `&` to `&&`, `/` to `//`.
//! When the last lexeme touches the end of the text and could grow (an identifier, a number, an
//! operator that begins a longer one, `.` which may begin `.5`), the text is parsed as it is and,
//! if that is dead, once with each longer lexeme it may become: every keyword it begins, any
//! identifier (a wildcard that passes every scope check), every longer operator, a number after
//! `.`, and a comment after `/`. Any live parse makes the text Open. A number that is not yet a
//! literal (`0x`, `1e-`) is never Complete.
//!
//! # Scope (Goal::Module only)
//!
//! - In function bodies a value identifier must be a local declared earlier in an enclosing
//!   block (`let`, `var`, `const`, a `for` initialiser), a parameter, a module-scope name declared
//!   earlier in the text, or a predeclared WGSL name (built-in functions, type names and
//!   constructors). Otherwise it is Dead, unless it is the last token: `foo` may still become
//!   `foo(`, a call.
//! - A call to a name that is neither predeclared nor declared yet (`foo(`) is allowed, since a
//!   function or struct may be declared later; so is a type name that is neither predeclared nor
//!   declared yet, and any unknown name in a module-scope expression or a template list (array
//!   sizes, `override` initialisers). Such names are recorded, and the text is Complete only
//!   when every one of them is declared somewhere in it.
//! - Attribute arguments (`@builtin(position)`, `@diagnostic(off, ...)`) and member names after
//!   `.` are not checked.
//! - **Unsound by design:** WGSL lets module-scope declarations come in any order, but here a
//!   `var`/`const`/`override` used as a value in a function body must be declared *before* that
//!   function. A module that declares its globals after the functions using them is Dead.
//! - [`Goal::Functions`] is checked as [`Goal::Module`], and an entry-point attribute
//!   (`@vertex`, `@fragment`, `@compute`) is Dead in it.
//! - [`Goal::Statements`] and [`Goal::Expression`] have no module around them: their free names
//!   are declared by a harness, so only the syntax is checked. [`check_prefix_free`] checks a
//!   module the same way (the view of the snippet harness, which declares free names).
//!
//! # Supported WGSL
//!
//! The grammar of the WGSL spec for: `enable`/`requires`/`diagnostic` directives; `struct`, `fn`,
//! `var` (with `<address_space[, access]>`), `const`, `override`, `alias`, `const_assert` and
//! stray `;` at module scope; attributes `@name` and `@name(args, ...)` anywhere the spec allows
//! them; types with nested template lists (`array<vec4<f32>, 4>`, with `>>` and `>=` split where a
//! template list closes); every statement (declarations, assignments and compound assignments,
//! `++`/`--`, `_ = e`, calls, `return`, `if`/`else if`/`else`, `switch` with `case`/`default`
//! selectors, `loop` with `continuing` and `break if`, `for`, `while`, `break`, `continue`,
//! `discard`, `const_assert`, blocks); expressions with every binary and unary operator, member
//! access, indexing, calls and templated calls (`vec3<f32>(..)`, `bitcast<u32>(x)`); decimal and
//! hex literals with their suffixes; nested `/* */` and `//` comments.
//!
//! # Values and calls (every goal)
//!
//! - A predeclared type or built-in function that no declaration of the text shadows is a value
//!   only when called or as a template argument: `vec4<f32>(1.0) < f32 > (x)` and `min(a, sqrt)`
//!   are Dead at the token after the name.
//! - A call of a built-in function or of a scalar, vector or matrix constructor takes as many
//!   arguments as WGSL allows ([`arity`]: `sqrt` one, `clamp` three, `textureSample` three to five,
//!   `vec3` at most three, `mat4x4` at most sixteen): a further argument is Dead where it starts,
//!   and a `)` that closes the call with too few is Dead. Calls of anything else are not counted.
//! - The operand of a unary `*` or `&` must be a pointer or a reference: a literal, `true`,
//!   `false` or a call is Dead there, and so are `**`, `* -` and the like (only `*&x` and `&*p`
//!   nest).
//!
//! `ident<` starts a template list exactly when `ident` is one of a fixed list of predeclared
//! generators (`vec2`..`vec4`, `mat2x2`..`mat4x4`, `array`, `ptr`, `atomic`, `bitcast`,
//! `binding_array`, `texture_*` with a sampled or storage type...); everywhere else `<` is a
//! comparison. This replaces the spec's template disambiguation.
//!
//! Known gaps (texts that naga accepts and that are reported Dead): a global used as a value in a
//! function body above its declaration (see Scope; of the 176 naga-valid shaders of the project's
//! WGSL corpus only naga's own `module-scope.wgsl` test does this, and it is the one that fails);
//! nesting deeper than [`MAX_DEPTH`] brackets, blocks or prefix operators (a call counts twice); identifiers with chars
//! outside Unicode's alphabetic and numeric classes.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// What the answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Module,
    /// A module without an entry point (functions, structs, constants): a `@vertex`,
    /// `@fragment` or `@compute` attribute is Dead.
    Functions,
    Statements,
    Expression,
}

impl Goal {
    /// Module or Functions: a text of module-scope declarations.
    pub fn is_module(self) -> bool {
        matches!(self, Goal::Module | Goal::Functions)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viability {
    /// Some continuation can make it a valid `goal`, but it cannot end here.
    Open,
    /// It can end here (syntactically complete: brackets closed, last statement/declaration
    /// finished, for Module at least one declaration), and may also be continued.
    Complete,
    /// No continuation makes it valid.
    Dead,
}

/// Whether `text` (or some continuation of it) can be valid WGSL of the kind `goal`; see the
/// module doc for what is checked.
pub fn check_prefix(text: &str, goal: Goal) -> Viability {
    check(text, goal, true)
}

/// [`check_prefix`] without the scope check in [`Goal::Module`] too: for module-shaped snippets
/// whose free names a harness declares (as [`super::validate_snippet`] does).
pub fn check_prefix_free(text: &str, goal: Goal) -> Viability {
    check(text, goal, false)
}

/// Nesting (brackets, blocks, prefix operators) past which a text is reported Dead, so that the
/// recursive parser's stack stays small on any input.
pub const MAX_DEPTH: usize = 200;

fn check(text: &str, goal: Goal, scoped: bool) -> Viability {
    let Some(lexed) = lex(text) else {
        return Viability::Dead;
    };
    let as_is = parse(lexed.toks.clone(), goal, scoped);
    let Some(valid_as_is) = lexed.growing_last else {
        return match as_is {
            Viability::Complete if lexed.open_comment => Viability::Open,
            v => v,
        };
    };
    match as_is {
        Viability::Complete if valid_as_is => return Viability::Complete,
        Viability::Dead => {}
        _ => return Viability::Open,
    }
    let (last, head) = lexed.toks.split_last().expect("a growing last lexeme is a token");
    let live = |next: Option<Tok<'_>>| {
        let mut toks = head.to_vec();
        toks.extend(next);
        parse(toks, goal, scoped) != Viability::Dead
    };
    let alive = match last.kind {
        Kind::Ident => {
            KEYWORDS.iter().any(|k| k.len() > last.text.len() && k.starts_with(last.text) && live(Some(Tok::ident(k))))
                || live(Some(Tok { kind: Kind::Ident, text: last.text, wild: true }))
        }
        Kind::Number => false,
        Kind::Punct => {
            OPERATORS
                .iter()
                .any(|op| op.len() > last.text.len() && op.starts_with(last.text) && live(Some(Tok::punct(op))))
                || (last.text == "/" && live(None))
                || (last.text == "." && live(Some(Tok { kind: Kind::Number, text: ".0", wild: false })))
        }
    };
    if alive {
        Viability::Open
    } else {
        Viability::Dead
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ident,
    Number,
    Punct,
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
    /// Stands for any identifier (the last lexeme, possibly cut): passes every scope check.
    wild: bool,
}

impl<'a> Tok<'a> {
    fn ident(text: &'a str) -> Self {
        Tok { kind: Kind::Ident, text, wild: false }
    }

    fn punct(text: &'a str) -> Self {
        Tok { kind: Kind::Punct, text, wild: false }
    }
}

struct Lexed<'a> {
    toks: Vec<Tok<'a>>,
    /// The text ends inside a block comment.
    open_comment: bool,
    /// The last token touches the end of the text and could grow into a longer lexeme; the bool
    /// says whether it is a whole lexeme as it is (false for a number such as `0x` or `1e-`).
    growing_last: Option<bool>,
}

/// Operators and punctuation, longest first so that the first match is the longest.
const OPERATORS: [&str; 44] = [
    "<<=", ">>=", "->", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "++", "--",
    "<<", ">>", "(", ")", "[", "]", "{", "}", "<", ">", "=", "!", "~", "+", "-", "*", "/", "%", "&", "|", "^", ",",
    ";", ":", ".",
];

/// The attribute sign, the one punctuation that is no operator.
const AT: &str = "@";

fn is_blank(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\u{0B}' | '\u{0C}' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Splits `text` into tokens; None when some char can start no token, or a number is malformed
/// (other than by being cut at the end).
fn lex(text: &str) -> Option<Lexed<'_>> {
    let b = text.as_bytes();
    let mut toks = Vec::with_capacity(text.len() / 3 + 1);
    let mut i = 0;
    let mut open_comment = false;
    let mut growing_last = None;
    while i < b.len() {
        let rest = &text[i..];
        let c = rest.chars().next().expect("not at the end");
        if is_blank(c) {
            i += c.len_utf8();
        } else if rest.starts_with("//") {
            i += rest.find(is_line_break).unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            match block_comment_len(rest) {
                Some(len) => i += len,
                None => {
                    open_comment = true;
                    break;
                }
            }
        } else if is_ident_start(c) {
            let len = rest.find(|c| !is_ident_continue(c)).unwrap_or(rest.len());
            toks.push(Tok::ident(&rest[..len]));
            i += len;
            if i == b.len() {
                growing_last = Some(true);
            }
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let len = number_len(rest.as_bytes());
            let literal = &rest[..len];
            i += len;
            let valid = literal_ok(literal);
            if i == b.len() {
                if !valid && !literal_prefix_ok(literal) {
                    return None;
                }
                growing_last = Some(valid);
            } else if !valid {
                return None;
            }
            toks.push(Tok { kind: Kind::Number, text: literal, wild: false });
        } else {
            let op = &rest[..operator_len(rest.as_bytes())?];
            toks.push(Tok::punct(op));
            i += op.len();
            if i == b.len() && grows(op) {
                growing_last = Some(true);
            }
        }
    }
    Some(Lexed { toks, open_comment, growing_last })
}

/// Length of the operator or punctuation (`@` included) at the start of the non-empty `b`: the
/// longest of [`OPERATORS`]; None when no operator starts there.
fn operator_len(b: &[u8]) -> Option<usize> {
    let next = |i: usize, set: &[u8]| b.get(i).is_some_and(|c| set.contains(c));
    Some(match b[0] {
        b'<' | b'>' if next(1, &b[..1]) => 2 + usize::from(next(2, b"=")),
        b'<' | b'>' => 1 + usize::from(next(1, b"=")),
        b'-' => 1 + usize::from(next(1, b">=-")),
        b'+' => 1 + usize::from(next(1, b"=+")),
        b'&' => 1 + usize::from(next(1, b"&=")),
        b'|' => 1 + usize::from(next(1, b"|=")),
        b'=' | b'!' | b'*' | b'/' | b'%' | b'^' => 1 + usize::from(next(1, b"=")),
        b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'~' | b',' | b';' | b':' | b'.' | b'@' => 1,
        _ => return None,
    })
}

/// Whether the operator `op`, cut by the end of the text, may be the start of a longer lexeme:
/// a longer operator, a comment (`/`) or a number (`.`).
fn grows(op: &str) -> bool {
    op == "." || op == "/" || OPERATORS.iter().any(|o| o.len() > op.len() && o.starts_with(op))
}

/// Length of the (nested) block comment at the start of `s`; None when it does not close.
fn block_comment_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut depth, mut i) = (0usize, 0);
    while i + 1 < b.len() {
        match (b[i], b[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The run of chars a number literal may span, greedily: letters and digits, `.`, and a sign
/// right after a decimal `e` or a hex `p`. [`literal_ok`] then judges it.
fn number_len(b: &[u8]) -> usize {
    let hex = b.len() > 1 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X');
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let sign_ok = i > 0 && matches!(c, b'+' | b'-') && {
            let p = b[i - 1];
            if hex {
                matches!(p, b'p' | b'P')
            } else {
                matches!(p, b'e' | b'E')
            }
        };
        if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || sign_ok {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Whether `s` is a whole WGSL numeric literal (with naga's `li`, `lu`, `lf` suffixes too).
fn literal_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |from: usize, hex: bool| {
        from + b[from..].iter().take_while(|c| if hex { c.is_ascii_hexdigit() } else { c.is_ascii_digit() }).count()
    };
    let hex = b.len() > 1 && b[0] == b'0' && (b[1] == b'x' || b[1] == b'X');
    let start = if hex { 2 } else { 0 };
    let int_end = digits(start, hex);
    let (frac_end, has_dot) =
        if b.get(int_end) == Some(&b'.') { (digits(int_end + 1, hex), true) } else { (int_end, false) };
    let mantissa_digits = (int_end - start) + frac_end.saturating_sub(int_end + usize::from(has_dot));
    if mantissa_digits == 0 {
        return false;
    }
    let marks: &[u8] = if hex { b"pP" } else { b"eE" };
    let mut end = frac_end;
    let has_exp = b.get(end).is_some_and(|c| marks.contains(c));
    if has_exp {
        end += 1;
        if matches!(b.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        let exp_end = digits(end, false);
        if exp_end == end {
            return false;
        }
        end = exp_end;
    }
    let suffix = &s[end..];
    let allowed: &[&str] = match (hex, has_dot, has_exp) {
        (true, _, true) => &["", "f", "h"],
        (true, true, false) => &[""],
        (true, false, false) => &["", "i", "u", "li", "lu"],
        (false, false, false) => &["", "i", "u", "f", "h", "li", "lu", "lf"],
        (false, _, _) => &["", "f", "h", "lf"],
    };
    allowed.contains(&suffix)
}

/// Whether some literal starts with `s` (a number cut by the end of the text).
fn literal_prefix_ok(s: &str) -> bool {
    literal_ok(s) || ["0", "1", "f", "i"].iter().any(|tail| literal_ok(&format!("{s}{tail}")))
}

// ---------------------------------------------------------------------------------------------
// Parser

/// Why a parse stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The text ran out where more was needed.
    Eof,
    /// A token no continuation can make valid.
    Dead,
}

type P<T> = Result<T, Stop>;

/// How a value identifier is checked where it is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Names {
    /// Not at all (snippets; attribute arguments).
    Free,
    /// Unknown names must be declared somewhere in the module by the end (module-scope
    /// expressions, template lists, types).
    Pending,
    /// Declared earlier (function bodies).
    Strict,
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    scoped: bool,
    names: Names,
    /// Directly inside a template list: `>` closes it rather than compares.
    in_template: bool,
    depth: usize,
    globals: Vec<&'a str>,
    pending: Vec<&'a str>,
    locals: Vec<&'a str>,
    /// `locals.len()` at the start of each open block.
    marks: Vec<usize>,
    /// Global declarations (Module) or statements (Statements) finished.
    items: usize,
    /// `@vertex`, `@fragment` and `@compute` may appear (not for [`Goal::Functions`]).
    entry_points: bool,
    /// Inside an attribute's arguments, where words are not values (`@builtin(position)`).
    attribute_args: bool,
    /// Inside a function's body (whose outermost block shares a scope with the parameters).
    in_function: bool,
    /// The unary `*` or `&` whose operand comes next: it must be a pointer or a reference, so
    /// not a call, a literal or `true`/`false`.
    reference: Option<&'a str>,
}

fn parse(toks: Vec<Tok<'_>>, goal: Goal, scoped: bool) -> Viability {
    let scoped = scoped && goal.is_module();
    let mut p = Parser {
        toks,
        pos: 0,
        scoped,
        names: if scoped { Names::Pending } else { Names::Free },
        in_template: false,
        depth: 0,
        globals: Vec::new(),
        pending: Vec::new(),
        locals: Vec::new(),
        marks: Vec::new(),
        items: 0,
        entry_points: goal != Goal::Functions,
        attribute_args: false,
        in_function: false,
        reference: None,
    };
    let result = match goal {
        Goal::Module | Goal::Functions => p.module(),
        Goal::Statements => p.statements(),
        Goal::Expression => p.expression(),
    };
    match result {
        Err(Stop::Eof) => Viability::Open,
        Err(Stop::Dead) => Viability::Dead,
        Ok(()) => {
            let complete = match goal {
                Goal::Module | Goal::Functions => p.items > 0 && p.pending.iter().all(|n| p.globals.contains(n)),
                Goal::Statements => p.items > 0,
                Goal::Expression => true,
            };
            if complete {
                Viability::Complete
            } else {
                Viability::Open
            }
        }
    }
}

impl<'a> Parser<'a> {
    // --- tokens ---

    fn tok(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn eof(&self) -> bool {
        self.pos >= self.toks.len()
    }

    fn bump(&mut self) {
        self.pos += 1;
    }

    /// Eof at the end of the text, else Dead: the one way a parse fails on a token.
    fn fail(&self) -> Stop {
        if self.eof() {
            Stop::Eof
        } else {
            Stop::Dead
        }
    }

    fn is(&self, p: &str) -> bool {
        self.tok().is_some_and(|t| t.kind == Kind::Punct && t.text == p)
    }

    fn is_kw(&self, k: &str) -> bool {
        self.tok().is_some_and(|t| t.kind == Kind::Ident && !t.wild && t.text == k)
    }

    fn eat(&mut self, p: &str) -> bool {
        let yes = self.is(p);
        if yes {
            self.bump();
        }
        yes
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        let yes = self.is_kw(k);
        if yes {
            self.bump();
        }
        yes
    }

    fn expect(&mut self, p: &str) -> P<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.fail())
        }
    }

    /// An identifier that names something: not a keyword, not `_`.
    fn name(&mut self) -> P<&'a str> {
        match self.tok() {
            Some(t) if t.kind == Kind::Ident && (t.wild || !is_reserved(t.text)) => {
                self.bump();
                Ok(t.text)
            }
            _ => Err(self.fail()),
        }
    }

    /// Any identifier, keywords included (attribute names).
    fn any_ident(&mut self) -> P<Tok<'a>> {
        match self.tok() {
            Some(t) if t.kind == Kind::Ident => {
                self.bump();
                Ok(t)
            }
            _ => Err(self.fail()),
        }
    }

    /// Closes a template list, splitting `>>`, `>=` and `>>=`.
    fn close_template(&mut self) -> bool {
        let Some(t) = self.tok().filter(|t| t.kind == Kind::Punct) else {
            return false;
        };
        match t.text {
            ">" => self.bump(),
            ">>" | ">=" | ">>=" => self.toks[self.pos].text = &t.text[1..],
            _ => return false,
        }
        true
    }

    fn deeper(&mut self) -> P<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Stop::Dead)
        } else {
            Ok(())
        }
    }

    // --- names ---

    fn is_local(&self, name: &str) -> bool {
        self.locals.iter().rev().any(|l| *l == name)
    }

    fn known(&self, name: &str) -> bool {
        self.is_local(name) || self.globals.contains(&name) || predeclared().values.contains(name)
    }

    /// A name used as a value, not called.
    fn use_value(&mut self, t: Tok<'a>) -> P<()> {
        if t.wild {
            return Ok(());
        }
        match self.names {
            Names::Free => Ok(()),
            Names::Pending => {
                if !self.known(t.text) && !predeclared().enumerants.contains(t.text) {
                    self.pending.push(t.text);
                }
                Ok(())
            }
            Names::Strict if self.known(t.text) => Ok(()),
            // `foo` at the very end may still become the call `foo(`.
            Names::Strict => Err(self.fail()),
        }
    }

    /// A name called: it may be declared later (a function or a struct).
    fn use_callee(&mut self, t: Tok<'a>) {
        if !t.wild && self.names != Names::Free && !self.known(t.text) {
            self.pending.push(t.text);
        }
    }

    /// The name of a module-scope declaration: Dead where the module already declares it.
    fn global_name(&mut self) -> P<&'a str> {
        let t = self.name_token()?;
        if !t.wild && self.globals.contains(&t.text) {
            return Err(Stop::Dead);
        }
        Ok(t.text)
    }

    /// The name of a parameter or local declaration: Dead where its scope, the locals from
    /// `scope` on, already declares it (shadowing an outer scope's name is allowed).
    fn local_name(&mut self, scope: usize) -> P<&'a str> {
        let t = self.name_token()?;
        if !t.wild && self.locals[scope.min(self.locals.len())..].contains(&t.text) {
            return Err(Stop::Dead);
        }
        Ok(t.text)
    }

    fn declare_global(&mut self, name: &'a str) {
        self.globals.push(name);
    }

    fn open_scope(&mut self) {
        self.marks.push(self.locals.len());
    }

    fn close_scope(&mut self) {
        let mark = self.marks.pop().unwrap_or(0);
        self.locals.truncate(mark);
    }

    // --- module ---

    fn module(&mut self) -> P<()> {
        while !self.eof() {
            self.global()?;
        }
        Ok(())
    }

    fn global(&mut self) -> P<()> {
        if self.eat(";") {
            return Ok(());
        }
        let attributes = self.attributes()?;
        let Some(t) = self.tok() else {
            return Err(Stop::Eof);
        };
        if t.kind != Kind::Ident || t.wild {
            return Err(Stop::Dead);
        }
        match t.text {
            "fn" => self.function(),
            "var" => {
                self.bump();
                self.var_template()?;
                self.declaration(true)
            }
            "override" => {
                self.bump();
                self.declaration(true)
            }
            _ if attributes > 0 => Err(Stop::Dead),
            "const" => {
                self.bump();
                self.declaration(false)
            }
            "struct" => self.structure(),
            "alias" => {
                self.bump();
                let name = self.global_name()?;
                self.expect("=")?;
                self.ty()?;
                self.expect(";")?;
                self.declare_global(name);
                self.items += 1;
                Ok(())
            }
            "const_assert" => {
                self.bump();
                self.expr()?;
                self.expect(";")?;
                self.items += 1;
                Ok(())
            }
            "enable" | "requires" => {
                self.bump();
                loop {
                    self.name()?;
                    if !self.eat(",") || self.is(";") {
                        break;
                    }
                }
                self.expect(";")
            }
            "diagnostic" => {
                self.bump();
                let outer = std::mem::replace(&mut self.attribute_args, true);
                self.arguments(Names::Free, usize::MAX)?;
                self.attribute_args = outer;
                self.expect(";")
            }
            _ => Err(Stop::Dead),
        }
    }

    /// The rest of a module-scope `var`, `override` (`optional_init`) or `const` after its
    /// keyword (and template list): `name [: type] [= expr] ;`.
    fn declaration(&mut self, optional_init: bool) -> P<()> {
        let name = self.global_name()?;
        if self.eat(":") {
            self.ty()?;
        }
        if optional_init {
            if self.eat("=") {
                self.expr()?;
            }
        } else {
            self.expect("=")?;
            self.expr()?;
        }
        self.expect(";")?;
        self.declare_global(name);
        self.items += 1;
        Ok(())
    }

    /// `<address_space[, access]>` after `var`, if there (a trailing comma allowed).
    fn var_template(&mut self) -> P<()> {
        if !self.eat("<") {
            return Ok(());
        }
        let space = self.name_token()?;
        if !space.wild && !ADDRESS_SPACES.contains(&space.text) {
            return Err(Stop::Dead);
        }
        if self.close_template() {
            return Ok(());
        }
        self.expect(",")?;
        if self.close_template() {
            return Ok(());
        }
        let access = self.name_token()?;
        if !access.wild && !ACCESS_MODES.contains(&access.text) {
            return Err(Stop::Dead);
        }
        if self.close_template() {
            return Ok(());
        }
        self.expect(",")?;
        if self.close_template() {
            Ok(())
        } else {
            Err(self.fail())
        }
    }

    fn name_token(&mut self) -> P<Tok<'a>> {
        let t = self.tok();
        self.name()?;
        Ok(t.expect("name() consumed a token"))
    }

    fn structure(&mut self) -> P<()> {
        self.bump();
        let name = self.global_name()?;
        self.declare_global(name);
        self.expect("{")?;
        loop {
            if self.eat("}") {
                break;
            }
            self.attributes()?;
            self.name()?;
            self.expect(":")?;
            self.ty()?;
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        self.items += 1;
        Ok(())
    }

    fn function(&mut self) -> P<()> {
        self.bump();
        let name = self.global_name()?;
        self.declare_global(name);
        self.expect("(")?;
        self.locals.clear();
        self.marks.clear();
        loop {
            if self.eat(")") {
                break;
            }
            self.attributes()?;
            let param = self.local_name(0)?;
            self.expect(":")?;
            self.ty()?;
            self.locals.push(param);
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        if self.eat("->") {
            self.attributes()?;
            self.ty()?;
        }
        let outer = self.names;
        if self.scoped {
            self.names = Names::Strict;
        }
        self.in_function = true;
        self.block()?;
        self.in_function = false;
        self.names = outer;
        self.locals.clear();
        self.items += 1;
        Ok(())
    }

    /// Attributes, each `@name` or `@name(args, ...)`; their arguments are not scope-checked.
    fn attributes(&mut self) -> P<usize> {
        let mut count = 0;
        while self.eat(AT) {
            let name = self.any_ident()?;
            if !self.entry_points && !name.wild && matches!(name.text, "vertex" | "fragment" | "compute") {
                return Err(Stop::Dead);
            }
            if self.is("(") {
                let outer = std::mem::replace(&mut self.attribute_args, true);
                self.arguments(Names::Free, usize::MAX)?;
                self.attribute_args = outer;
            }
            count += 1;
        }
        Ok(count)
    }

    /// `( expr, ... )` with an optional trailing comma, names checked as `names` says, at most
    /// `most` of them; returns how many.
    fn arguments(&mut self, names: Names, most: usize) -> P<usize> {
        self.expect("(")?;
        let (outer_names, outer_template) = (self.names, self.in_template);
        if names == Names::Free {
            self.names = Names::Free;
        }
        self.in_template = false;
        let mut count = 0;
        loop {
            if self.eat(")") {
                break;
            }
            if count == most {
                return Err(self.fail());
            }
            self.expr()?;
            count += 1;
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        self.names = outer_names;
        self.in_template = outer_template;
        Ok(count)
    }

    /// A call of `callee` (its `(` next): its arguments, as many as a predeclared function or
    /// constructor takes ([`arity`]) unless a declaration of the text shadows it.
    fn call(&mut self, callee: Tok<'a>) -> P<()> {
        let (fewest, most) = if callee.wild || self.shadowed(callee.text) {
            (0, usize::MAX)
        } else {
            arity(callee.text).unwrap_or((0, usize::MAX))
        };
        // A call costs two levels of depth: its frames are the deepest of the parser's.
        self.deeper()?;
        let count = self.arguments(self.names, most)?;
        self.depth -= 1;
        if count < fewest {
            // The `)` that closed the call too early.
            return Err(Stop::Dead);
        }
        Ok(())
    }

    /// Whether the text declares `name` (a local in scope or a module-scope name so far), hiding
    /// a predeclared name of the same spelling.
    fn shadowed(&self, name: &str) -> bool {
        self.is_local(name) || self.globals.contains(&name)
    }

    // --- types ---

    fn ty(&mut self) -> P<()> {
        let t = self.name_token()?;
        if !t.wild
            && self.names != Names::Free
            && !predeclared().types.contains(t.text)
            && !self.globals.contains(&t.text)
        {
            self.pending.push(t.text);
        }
        if !t.wild && is_generator(t.text) && self.is("<") {
            self.template_list()?;
        }
        Ok(())
    }

    /// `< arg, ... >`: each argument a type, an enumerant or a constant expression.
    fn template_list(&mut self) -> P<()> {
        self.expect("<")?;
        let (outer_names, outer_template) = (self.names, self.in_template);
        if self.names != Names::Free {
            self.names = Names::Pending;
        }
        self.in_template = true;
        loop {
            self.expr()?;
            if self.eat(",") {
                if self.close_template() {
                    break;
                }
                continue;
            }
            if self.close_template() {
                break;
            }
            return Err(self.fail());
        }
        self.names = outer_names;
        self.in_template = outer_template;
        Ok(())
    }

    // --- statements ---

    fn statements(&mut self) -> P<()> {
        while !self.eof() {
            self.statement()?;
            self.items += 1;
        }
        Ok(())
    }

    /// `{ statement* }` with its attributes, in a scope of its own.
    fn block(&mut self) -> P<()> {
        self.attributes()?;
        self.expect("{")?;
        self.deeper()?;
        self.open_scope();
        while !self.eat("}") {
            self.statement()?;
        }
        self.close_scope();
        self.depth -= 1;
        Ok(())
    }

    fn statement(&mut self) -> P<()> {
        self.attributes()?;
        let Some(t) = self.tok() else {
            return Err(Stop::Eof);
        };
        if t.kind == Kind::Punct {
            if t.text == ";" {
                self.bump();
                return Ok(());
            }
            if t.text == "{" {
                return self.block();
            }
        }
        if t.kind == Kind::Ident && !t.wild {
            match t.text {
                "let" | "const" | "var" => {
                    self.local_declaration()?;
                    return self.expect(";");
                }
                "return" => {
                    self.bump();
                    if !self.eat(";") {
                        self.expr()?;
                        self.expect(";")?;
                    }
                    return Ok(());
                }
                "if" => return self.if_statement(),
                "switch" => return self.switch_statement(),
                "loop" => return self.loop_statement(),
                "for" => return self.for_statement(),
                "while" => {
                    self.bump();
                    self.expr()?;
                    return self.block();
                }
                "break" | "continue" | "discard" => {
                    self.bump();
                    return self.expect(";");
                }
                "const_assert" => {
                    self.bump();
                    self.expr()?;
                    return self.expect(";");
                }
                "_" => {}
                k if is_reserved(k) => return Err(Stop::Dead),
                _ => {}
            }
        }
        self.assignment_or_call()?;
        self.expect(";")
    }

    /// `let`/`const`/`var` in a function, without the `;`; the name is in scope after it.
    fn local_declaration(&mut self) -> P<()> {
        let keyword = self.tok().map_or("", |t| t.text);
        self.bump();
        if keyword == "var" {
            self.var_template()?;
        }
        // A function body's outermost block shares its scope with the parameters.
        let scope = match self.marks.as_slice() {
            [_] if self.in_function => 0,
            [.., mark] => *mark,
            [] => 0,
        };
        let name = self.local_name(scope)?;
        if self.eat(":") {
            self.ty()?;
        }
        if keyword == "var" {
            if self.eat("=") {
                self.expr()?;
            }
        } else {
            self.expect("=")?;
            self.expr()?;
        }
        self.locals.push(name);
        Ok(())
    }

    /// An assignment (plain, compound or to `_`), an increment or decrement, or a call; without
    /// the `;`.
    fn assignment_or_call(&mut self) -> P<()> {
        if self.is_kw("_") {
            self.bump();
            self.expect("=")?;
            return self.expr();
        }
        let call = self.unary()?;
        if ASSIGNMENTS.iter().any(|op| self.eat(op)) {
            self.expr()
        } else if self.eat("++") || self.eat("--") || call {
            Ok(())
        } else {
            Err(self.fail())
        }
    }

    fn if_statement(&mut self) -> P<()> {
        self.bump();
        self.deeper()?;
        self.expr()?;
        self.block()?;
        if self.eat_kw("else") {
            if self.is_kw("if") {
                self.if_statement()?;
            } else {
                self.block()?;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn switch_statement(&mut self) -> P<()> {
        self.bump();
        self.expr()?;
        self.attributes()?;
        self.expect("{")?;
        loop {
            if self.eat("}") {
                return Ok(());
            }
            if self.eat_kw("case") {
                loop {
                    if !self.eat_kw("default") {
                        self.expr()?;
                    }
                    if !self.eat(",") || self.is(":") || self.is("{") || self.is(AT) {
                        break;
                    }
                }
            } else if !self.eat_kw("default") {
                return Err(self.fail());
            }
            self.eat(":");
            self.block()?;
        }
    }

    fn loop_statement(&mut self) -> P<()> {
        self.bump();
        self.attributes()?;
        self.expect("{")?;
        self.deeper()?;
        self.open_scope();
        loop {
            if self.eat("}") {
                break;
            }
            if self.is_kw("continuing") {
                self.continuing()?;
                self.expect("}")?;
                break;
            }
            self.statement()?;
        }
        self.close_scope();
        self.depth -= 1;
        Ok(())
    }

    fn continuing(&mut self) -> P<()> {
        self.bump();
        self.attributes()?;
        self.expect("{")?;
        self.open_scope();
        loop {
            if self.eat("}") {
                break;
            }
            if self.eat_kw("break") {
                if self.eat_kw("if") {
                    self.expr()?;
                    self.expect(";")?;
                    self.expect("}")?;
                    break;
                }
                self.expect(";")?;
                continue;
            }
            self.statement()?;
        }
        self.close_scope();
        Ok(())
    }

    fn for_statement(&mut self) -> P<()> {
        self.bump();
        self.expect("(")?;
        self.open_scope();
        if !self.eat(";") {
            if self.is_kw("let") || self.is_kw("var") || self.is_kw("const") {
                self.local_declaration()?;
            } else {
                self.assignment_or_call()?;
            }
            self.expect(";")?;
        }
        if !self.eat(";") {
            self.expr()?;
            self.expect(";")?;
        }
        if !self.eat(")") {
            self.assignment_or_call()?;
            self.expect(")")?;
        }
        self.block()?;
        self.close_scope();
        Ok(())
    }

    // --- expressions ---

    fn expression(&mut self) -> P<()> {
        self.expr()?;
        if self.eof() {
            Ok(())
        } else {
            Err(Stop::Dead)
        }
    }

    /// Unary expressions joined by binary operators (precedence does not change validity here).
    fn expr(&mut self) -> P<()> {
        self.deeper()?;
        self.unary()?;
        while self.binary_operator() {
            self.unary()?;
        }
        self.depth -= 1;
        Ok(())
    }

    fn binary_operator(&mut self) -> bool {
        let Some(t) = self.tok().filter(|t| t.kind == Kind::Punct) else {
            return false;
        };
        let closes_template = self.in_template && matches!(t.text, ">" | ">=" | ">>");
        let yes = BINARY.contains(&t.text) && !closes_template;
        if yes {
            self.bump();
        }
        yes
    }

    /// A unary expression; true when it is a bare call (which may stand as a statement).
    fn unary(&mut self) -> P<bool> {
        if let Some(op) = self.tok().filter(|t| t.kind == Kind::Punct && matches!(t.text, "-" | "!" | "~" | "*" | "&"))
        {
            if let Some(outer) = self.reference {
                // `*-x`, `**p`, `& &x`: only `*&x` and `&*p` give a pointer or a reference.
                if !matches!((outer, op.text), ("*", "&") | ("&", "*")) {
                    return Err(Stop::Dead);
                }
            }
            self.bump();
            self.reference = matches!(op.text, "*" | "&").then_some(op.text);
            self.deeper()?;
            self.unary()?;
            self.depth -= 1;
            return Ok(false);
        }
        let mut call = self.primary()?;
        loop {
            if self.eat(".") {
                self.name()?;
            } else if self.is("[") {
                self.bump();
                let outer = self.in_template;
                self.in_template = false;
                self.expr()?;
                self.expect("]")?;
                self.in_template = outer;
            } else {
                return Ok(call);
            }
            call = false;
        }
    }

    fn primary(&mut self) -> P<bool> {
        let Some(t) = self.tok() else {
            return Err(Stop::Eof);
        };
        // After a unary `*` or `&`: neither a literal nor a call gives a pointer or a reference.
        let reference = self.reference.take().is_some();
        match t.kind {
            Kind::Number if reference => Err(Stop::Dead),
            Kind::Number => {
                self.bump();
                Ok(false)
            }
            Kind::Punct if t.text == "(" => {
                self.bump();
                let outer = self.in_template;
                self.in_template = false;
                self.expr()?;
                self.expect(")")?;
                self.in_template = outer;
                Ok(false)
            }
            Kind::Punct => Err(Stop::Dead),
            Kind::Ident => {
                if !t.wild && matches!(t.text, "true" | "false") {
                    if reference {
                        return Err(Stop::Dead);
                    }
                    self.bump();
                    return Ok(false);
                }
                if !t.wild && is_reserved(t.text) {
                    return Err(Stop::Dead);
                }
                self.bump();
                if !t.wild && is_generator(t.text) && self.is("<") {
                    self.template_list()?;
                    if self.is("(") {
                        if reference {
                            return Err(Stop::Dead);
                        }
                        self.call(t)?;
                        return Ok(true);
                    }
                    // A type is a value only as a template argument (`array<vec4<f32>, 2>`).
                    return if self.in_template { Ok(false) } else { Err(self.fail()) };
                }
                if self.is("(") {
                    if reference {
                        return Err(Stop::Dead);
                    }
                    self.use_callee(t);
                    self.call(t)?;
                    return Ok(true);
                }
                // A predeclared type or function is a value only when called (or as a template
                // argument): `vec4<f32>(..) < f32 > (x)`, `min(a, sqrt)` are not WGSL.
                if !t.wild
                    && !self.in_template
                    && !self.attribute_args
                    && !self.shadowed(t.text)
                    && (predeclared().types.contains(t.text) || predeclared().functions.contains(t.text))
                {
                    return Err(self.fail());
                }
                self.use_value(t)?;
                Ok(false)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Names

/// The keywords, which a cut identifier may grow into ([`is_reserved`] matches the same words).
const KEYWORDS: [&str; 26] = [
    "alias",
    "break",
    "case",
    "const",
    "const_assert",
    "continue",
    "continuing",
    "default",
    "diagnostic",
    "discard",
    "else",
    "enable",
    "false",
    "fn",
    "for",
    "if",
    "let",
    "loop",
    "override",
    "requires",
    "return",
    "struct",
    "switch",
    "true",
    "var",
    "while",
];

/// A keyword, or `_`: no name.
fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "_" | "alias"
            | "break"
            | "case"
            | "const"
            | "const_assert"
            | "continue"
            | "continuing"
            | "default"
            | "diagnostic"
            | "discard"
            | "else"
            | "enable"
            | "false"
            | "fn"
            | "for"
            | "if"
            | "let"
            | "loop"
            | "override"
            | "requires"
            | "return"
            | "struct"
            | "switch"
            | "true"
            | "var"
            | "while"
    )
}

const ASSIGNMENTS: [&str; 11] = ["=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="];

const BINARY: [&str; 18] =
    ["||", "&&", "|", "^", "&", "==", "!=", "<", "<=", ">", ">=", "<<", ">>", "+", "-", "*", "/", "%"];

const ADDRESS_SPACES: [&str; 11] = [
    "function",
    "private",
    "workgroup",
    "uniform",
    "storage",
    "handle",
    "immediate",
    "push_constant",
    "task_payload",
    "ray_payload",
    "incoming_ray_payload",
];

const ACCESS_MODES: [&str; 4] = ["read", "write", "read_write", "atomic"];

/// The fewest and most arguments a call of a predeclared function or constructor takes, where
/// the WGSL spec fixes them (texture functions by their overloads; vectors and matrices at most
/// one argument per component); None where it is not checked (arrays, structs, the extensions).
fn arity(name: &str) -> Option<(usize, usize)> {
    let exactly = match name {
        "bool" | "f16" | "f32" | "f64" | "i32" | "u32" | "i64" | "u64" => return Some((0, 1)),
        "textureDimensions" => return Some((1, 2)),
        "textureGather" => return Some((3, 6)),
        "textureGatherCompare"
        | "textureSampleBias"
        | "textureSampleCompare"
        | "textureSampleCompareLevel"
        | "textureSampleLevel" => return Some((4, 6)),
        "textureLoad" => return Some((2, 4)),
        "textureSample" => return Some((3, 5)),
        "textureSampleGrad" => return Some((5, 7)),
        "textureStore" => return Some((3, 4)),
        "storageBarrier" | "textureBarrier" | "workgroupBarrier" => 0,
        "abs"
        | "acos"
        | "acosh"
        | "all"
        | "any"
        | "arrayLength"
        | "asin"
        | "asinh"
        | "atan"
        | "atanh"
        | "atomicLoad"
        | "bitcast"
        | "ceil"
        | "cos"
        | "cosh"
        | "countLeadingZeros"
        | "countOneBits"
        | "countTrailingZeros"
        | "degrees"
        | "determinant"
        | "dpdx"
        | "dpdxCoarse"
        | "dpdxFine"
        | "dpdy"
        | "dpdyCoarse"
        | "dpdyFine"
        | "exp"
        | "exp2"
        | "firstLeadingBit"
        | "firstTrailingBit"
        | "floor"
        | "fract"
        | "frexp"
        | "fwidth"
        | "fwidthCoarse"
        | "fwidthFine"
        | "inverseSqrt"
        | "length"
        | "log"
        | "log2"
        | "modf"
        | "normalize"
        | "pack2x16float"
        | "pack2x16snorm"
        | "pack2x16unorm"
        | "pack4x8snorm"
        | "pack4x8unorm"
        | "pack4xI8"
        | "pack4xI8Clamp"
        | "pack4xU8"
        | "pack4xU8Clamp"
        | "quantizeToF16"
        | "radians"
        | "reverseBits"
        | "round"
        | "saturate"
        | "sign"
        | "sin"
        | "sinh"
        | "sqrt"
        | "tan"
        | "tanh"
        | "textureNumLayers"
        | "textureNumLevels"
        | "textureNumSamples"
        | "transpose"
        | "trunc"
        | "unpack2x16float"
        | "unpack2x16snorm"
        | "unpack2x16unorm"
        | "unpack4x8snorm"
        | "unpack4x8unorm"
        | "unpack4xI8"
        | "unpack4xU8"
        | "workgroupUniformLoad" => 1,
        "atan2" | "atomicAdd" | "atomicAnd" | "atomicExchange" | "atomicMax" | "atomicMin" | "atomicOr"
        | "atomicStore" | "atomicSub" | "atomicXor" | "cross" | "distance" | "dot" | "dot4I8Packed"
        | "dot4U8Packed" | "ldexp" | "max" | "min" | "pow" | "reflect" | "step" => 2,
        "atomicCompareExchangeWeak"
        | "clamp"
        | "extractBits"
        | "faceForward"
        | "fma"
        | "mix"
        | "refract"
        | "select"
        | "smoothstep" => 3,
        "insertBits" => 4,
        _ => return components(name).map(|n| (0, n)),
    };
    Some((exactly, exactly))
}

/// How many components a vector or matrix type has (`vec3f`: 3, `mat4x3`: 12).
fn components(name: &str) -> Option<usize> {
    let b = name.as_bytes();
    let digit = |i: usize| b.get(i).filter(|c| (b'2'..=b'4').contains(c)).map(|c| usize::from(c - b'0'));
    let suffix_ok = |i: usize| b.len() == i || (b.len() == i + 1 && matches!(b[i], b'f' | b'h' | b'i' | b'u'));
    if name.starts_with("vec") {
        return digit(3).filter(|_| suffix_ok(4));
    }
    if name.starts_with("mat") && b.get(4) == Some(&b'x') {
        let (c, r) = (digit(3)?, digit(5)?);
        return (suffix_ok(6) && !name.ends_with('i') && !name.ends_with('u')).then_some(c * r);
    }
    None
}

/// Predeclared names that take a template list: `ident<` starts one exactly for these.
fn is_generator(word: &str) -> bool {
    matches!(
        word,
        "vec2"
            | "vec3"
            | "vec4"
            | "mat2x2"
            | "mat2x3"
            | "mat2x4"
            | "mat3x2"
            | "mat3x3"
            | "mat3x4"
            | "mat4x2"
            | "mat4x3"
            | "mat4x4"
            | "array"
            | "atomic"
            | "ptr"
            | "bitcast"
            | "binding_array"
            | "texture_1d"
            | "texture_2d"
            | "texture_2d_array"
            | "texture_3d"
            | "texture_cube"
            | "texture_cube_array"
            | "texture_multisampled_2d"
            | "texture_storage_1d"
            | "texture_storage_2d"
            | "texture_storage_2d_array"
            | "texture_storage_3d"
            | "acceleration_structure"
            | "ray_query"
            | "coop_mat8x8"
            | "coop_mat16x16"
            | "coopLoad"
            | "coopLoadT"
    )
}

const SCALAR_AND_OTHER_TYPES: &[&str] = &[
    "bool",
    "f16",
    "f32",
    "f64",
    "i32",
    "u32",
    "i64",
    "u64",
    "array",
    "atomic",
    "ptr",
    "binding_array",
    "sampler",
    "sampler_comparison",
    "texture_1d",
    "texture_2d",
    "texture_2d_array",
    "texture_3d",
    "texture_cube",
    "texture_cube_array",
    "texture_multisampled_2d",
    "texture_depth_multisampled_2d",
    "texture_external",
    "texture_storage_1d",
    "texture_storage_2d",
    "texture_storage_2d_array",
    "texture_storage_3d",
    "texture_depth_2d",
    "texture_depth_2d_array",
    "texture_depth_cube",
    "texture_depth_cube_array",
    "acceleration_structure",
    "ray_query",
    "RayDesc",
    "RayIntersection",
    "coop_mat8x8",
    "coop_mat16x16",
];

/// Built-in functions of the WGSL spec and of naga's extensions.
const BUILTIN_FUNCTIONS: &[&str] = &[
    "abs",
    "acos",
    "acosh",
    "all",
    "any",
    "arrayLength",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "atomicAdd",
    "atomicAnd",
    "atomicCompareExchangeWeak",
    "atomicExchange",
    "atomicLoad",
    "atomicMax",
    "atomicMin",
    "atomicOr",
    "atomicStore",
    "atomicSub",
    "atomicXor",
    "bitcast",
    "ceil",
    "clamp",
    "coopLoad",
    "coopLoadT",
    "coopMultiplyAdd",
    "coopStore",
    "coopStoreT",
    "cos",
    "cosh",
    "countLeadingZeros",
    "countOneBits",
    "countTrailingZeros",
    "cross",
    "degrees",
    "determinant",
    "distance",
    "dot",
    "dot4I8Packed",
    "dot4U8Packed",
    "dpdx",
    "dpdxCoarse",
    "dpdxFine",
    "dpdy",
    "dpdyCoarse",
    "dpdyFine",
    "exp",
    "exp2",
    "extractBits",
    "faceForward",
    "firstLeadingBit",
    "firstTrailingBit",
    "floor",
    "fma",
    "fract",
    "frexp",
    "fwidth",
    "fwidthCoarse",
    "fwidthFine",
    "getCandidateHitVertexPositions",
    "getCommittedHitVertexPositions",
    "insertBits",
    "inverseSqrt",
    "ldexp",
    "length",
    "log",
    "log2",
    "max",
    "min",
    "mix",
    "modf",
    "normalize",
    "pack2x16float",
    "pack2x16snorm",
    "pack2x16unorm",
    "pack4x8snorm",
    "pack4x8unorm",
    "pack4xI8",
    "pack4xI8Clamp",
    "pack4xU8",
    "pack4xU8Clamp",
    "pow",
    "quadBroadcast",
    "quadSwapDiagonal",
    "quadSwapX",
    "quadSwapY",
    "quantizeToF16",
    "radians",
    "rayQueryConfirmIntersection",
    "rayQueryGenerateIntersection",
    "rayQueryGetCandidateIntersection",
    "rayQueryGetCommittedIntersection",
    "rayQueryInitialize",
    "rayQueryProceed",
    "rayQueryTerminate",
    "reflect",
    "refract",
    "reverseBits",
    "round",
    "saturate",
    "select",
    "sign",
    "sin",
    "sinh",
    "smoothstep",
    "sqrt",
    "step",
    "storageBarrier",
    "subgroupAdd",
    "subgroupAll",
    "subgroupAnd",
    "subgroupAny",
    "subgroupBallot",
    "subgroupBarrier",
    "subgroupBroadcast",
    "subgroupBroadcastFirst",
    "subgroupElect",
    "subgroupExclusiveAdd",
    "subgroupExclusiveMul",
    "subgroupInclusiveAdd",
    "subgroupInclusiveMul",
    "subgroupMax",
    "subgroupMin",
    "subgroupMul",
    "subgroupOr",
    "subgroupShuffle",
    "subgroupShuffleDown",
    "subgroupShuffleUp",
    "subgroupShuffleXor",
    "subgroupXor",
    "tan",
    "tanh",
    "textureAtomicAdd",
    "textureAtomicAnd",
    "textureAtomicMax",
    "textureAtomicMin",
    "textureAtomicOr",
    "textureAtomicXor",
    "textureBarrier",
    "textureDimensions",
    "textureGather",
    "textureGatherCompare",
    "textureLoad",
    "textureNumLayers",
    "textureNumLevels",
    "textureNumSamples",
    "textureSample",
    "textureSampleBaseClampToEdge",
    "textureSampleBias",
    "textureSampleCompare",
    "textureSampleCompareLevel",
    "textureSampleGrad",
    "textureSampleLevel",
    "textureStore",
    "traceRay",
    "transpose",
    "trunc",
    "unpack2x16float",
    "unpack2x16snorm",
    "unpack2x16unorm",
    "unpack4x8snorm",
    "unpack4x8unorm",
    "unpack4xI8",
    "unpack4xU8",
    "workgroupBarrier",
    "workgroupUniformLoad",
];

/// Predeclared constants (naga's ray-tracing extension).
const BUILTIN_CONSTANTS: &[&str] = &[
    "RAY_FLAG_NONE",
    "RAY_FLAG_FORCE_OPAQUE",
    "RAY_FLAG_FORCE_NO_OPAQUE",
    "RAY_FLAG_TERMINATE_ON_FIRST_HIT",
    "RAY_FLAG_SKIP_CLOSEST_HIT_SHADER",
    "RAY_FLAG_CULL_BACK_FACING",
    "RAY_FLAG_CULL_FRONT_FACING",
    "RAY_FLAG_CULL_OPAQUE",
    "RAY_FLAG_CULL_NO_OPAQUE",
    "RAY_FLAG_SKIP_TRIANGLES",
    "RAY_FLAG_SKIP_AABBS",
    "RAY_QUERY_INTERSECTION_NONE",
    "RAY_QUERY_INTERSECTION_TRIANGLE",
    "RAY_QUERY_INTERSECTION_GENERATED",
    "RAY_QUERY_INTERSECTION_AABB",
];

/// Enumerants that only template lists hold: access modes, address spaces, texel formats.
const TEXEL_FORMATS: &[&str] = &[
    "r8unorm",
    "r8snorm",
    "r8uint",
    "r8sint",
    "r16unorm",
    "r16snorm",
    "r16uint",
    "r16sint",
    "r16float",
    "rg8unorm",
    "rg8snorm",
    "rg8uint",
    "rg8sint",
    "r32uint",
    "r32sint",
    "r32float",
    "rg16unorm",
    "rg16snorm",
    "rg16uint",
    "rg16sint",
    "rg16float",
    "rgba8unorm",
    "rgba8snorm",
    "rgba8uint",
    "rgba8sint",
    "rgb10a2uint",
    "rgb10a2unorm",
    "rg11b10ufloat",
    "r64uint",
    "rg32uint",
    "rg32sint",
    "rg32float",
    "rgba16unorm",
    "rgba16snorm",
    "rgba16uint",
    "rgba16sint",
    "rgba16float",
    "rgba32uint",
    "rgba32sint",
    "rgba32float",
    "bgra8unorm",
    "vertex_return",
];

/// FNV-1a: the tables hold short static names, and SipHash costs more than the lookups save.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type NameSet = HashSet<&'static str, BuildHasherDefault<Fnv>>;

struct Predeclared {
    /// Type names (with the vector and matrix shorthands).
    types: NameSet,
    /// Names usable as values or callees: functions, types (constructors), constants.
    values: NameSet,
    /// Template-list-only words.
    enumerants: NameSet,
    /// Built-in functions.
    functions: NameSet,
}

fn predeclared() -> &'static Predeclared {
    static TABLE: OnceLock<Predeclared> = OnceLock::new();
    TABLE.get_or_init(|| {
        const VECTORS: [&str; 15] = [
            "vec2", "vec3", "vec4", "vec2f", "vec3f", "vec4f", "vec2h", "vec3h", "vec4h", "vec2i", "vec3i", "vec4i",
            "vec2u", "vec3u", "vec4u",
        ];
        const MATRICES: [&str; 27] = [
            "mat2x2", "mat2x3", "mat2x4", "mat3x2", "mat3x3", "mat3x4", "mat4x2", "mat4x3", "mat4x4", "mat2x2f",
            "mat2x3f", "mat2x4f", "mat3x2f", "mat3x3f", "mat3x4f", "mat4x2f", "mat4x3f", "mat4x4f", "mat2x2h",
            "mat2x3h", "mat2x4h", "mat3x2h", "mat3x3h", "mat3x4h", "mat4x2h", "mat4x3h", "mat4x4h",
        ];
        let types: NameSet = SCALAR_AND_OTHER_TYPES.iter().chain(&VECTORS).chain(&MATRICES).copied().collect();
        let values = types.iter().chain(BUILTIN_FUNCTIONS).chain(BUILTIN_CONSTANTS).copied().collect();
        let enumerants = ADDRESS_SPACES.iter().chain(&ACCESS_MODES).chain(TEXEL_FORMATS).copied().collect();
        let functions = BUILTIN_FUNCTIONS.iter().copied().collect();
        Predeclared { types, values, enumerants, functions }
    })
}

/// Whether a prefix that ends a declaration or a statement already fails naga, so that no
/// continuation can make it valid. Checked where that is cheap to decide: a module at its top
/// level (the prefix is a module as it stands) or after a statement of a function body (closed
/// with a zero value of the function's return type: `return vec4<f32>();` `}`), and statements at
/// their top level. This assumes what the constrained mode assumes of a module: every name is
/// declared before it is used.
pub fn fails_so_far(text: &str, goal: Goal) -> bool {
    let text = text.trim_end();
    if !(text.ends_with(';') || text.ends_with('}')) || goal == Goal::Expression {
        return false;
    }
    let (mut braces, mut parens, mut header) = (0, 0, "");
    walk_items(text, |step| (braces, parens, header) = (step.braces, step.parens, step.header));
    if parens != 0 {
        return false;
    }
    match (goal, braces) {
        (Goal::Module | Goal::Functions, 0) => !crate::wgsl::validate_module(text).is_empty(),
        (Goal::Module | Goal::Functions, 1) if text.ends_with(';') && is_function(header) => {
            !crate::wgsl::validate_module(&format!("{text}{}", function_closing(header))).is_empty()
        }
        (Goal::Statements, 0) => !crate::wgsl::validate_snippet(text).is_empty(),
        _ => false,
    }
}

/// What ends the body of the function whose header (from `fn` to its `{`) is `header`: a return
/// of a zero value of its return type, if it has one, and `}`.
pub fn function_closing(header: &str) -> String {
    match header.split_once("->") {
        Some((_, returned)) => format!("\n    return {}();\n}}", without_attributes(returned)),
        None => "\n}".to_string(),
    }
}

/// The unfinished `text` cut back to where a declaration or a statement ended and closed there,
/// longest first: for a module, at the end of a top-level item as it stands, or after a statement
/// of a function body (or at its `{`) with that function closed by [`function_closing`]; for
/// statements, at the end of a top-level statement; for an expression, at every piece where the
/// expression so far is complete ([`Viability::Complete`]: `a * (b + c)` of `a * (b + c) - `).
/// What a constrained search falls back on when no beam finishes: the most of the model's own
/// answer that still closes. The closings are not checked here (the caller validates them as it
/// asks).
pub fn closings(text: &str, goal: Goal) -> Vec<String> {
    if goal == Goal::Expression {
        let mut end = 0;
        let mut out = Vec::new();
        for piece in crate::tokenizer::pieces(text) {
            end += piece.len();
            let cut = text[..end].trim_end();
            if !piece.trim().is_empty() && check_prefix(cut, goal) == Viability::Complete {
                out.push(cut.to_string());
            }
        }
        out.reverse();
        return out;
    }
    let mut out = Vec::new();
    walk_items(text, |step| {
        let at_end = matches!(step.piece, ";" | "}") || (step.piece == "{" && step.braces == 1);
        if !at_end || step.parens != 0 {
            return;
        }
        let cut = &text[..step.end];
        match (goal, step.braces) {
            (_, 0) if step.piece != "{" => out.push(cut.to_string()),
            (Goal::Module | Goal::Functions, 1) if step.piece != "}" && is_function(step.header) => {
                out.push(format!("{cut}{}", function_closing(step.header)))
            }
            _ => {}
        }
    });
    out.reverse();
    out
}

/// Where a prefix stands after one of its pieces.
struct ItemStep<'a> {
    piece: &'a str,
    /// Byte offset just past the piece.
    end: usize,
    /// Open `{` and open `(` or `[`.
    braces: i32,
    parens: i32,
    /// The header (from the item's start to its `{`) of the top-level item whose body is open,
    /// else of the last such item; empty before the first.
    header: &'a str,
}

/// Calls `visit` after each piece of `text` with the nesting so far.
fn walk_items<'a>(text: &'a str, mut visit: impl FnMut(&ItemStep<'a>)) {
    let (mut braces, mut parens) = (0i32, 0i32);
    let (mut item_start, mut header) = (0usize, "");
    let mut offset = 0;
    for piece in crate::tokenizer::pieces(text) {
        let end = offset + piece.len();
        match piece {
            "{" => {
                if braces == 0 && parens == 0 {
                    header = &text[item_start..offset];
                }
                braces += 1;
            }
            "}" => {
                braces -= 1;
                if braces == 0 && parens == 0 {
                    item_start = end;
                }
            }
            "(" | "[" => parens += 1,
            ")" | "]" => parens -= 1,
            ";" if braces == 0 && parens == 0 => item_start = end,
            _ => {}
        }
        visit(&ItemStep { piece, end, braces, parens, header });
        offset = end;
    }
}

/// Whether an item's header declares a function.
fn is_function(header: &str) -> bool {
    header.split_whitespace().any(|w| w == "fn" || w.starts_with("fn("))
}

/// A return type as written after `->`, without its attributes (`@location(0) vec4<f32>`).
fn without_attributes(returned: &str) -> &str {
    let mut rest = returned.trim();
    while let Some(after) = rest.strip_prefix('@') {
        let name_end = after.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(after.len());
        rest = after[name_end..].trim_start();
        if rest.starts_with('(') {
            rest = rest.find(')').map_or("", |close| &rest[close + 1..]).trim_start();
        }
    }
    rest
}

#[cfg(test)]
mod tests {
    use super::Viability::{Complete, Dead, Open};
    use super::*;

    fn module(text: &str) -> Viability {
        check_prefix(text, Goal::Module)
    }

    #[test]
    fn literals() {
        for ok in
            ["1", "1u", "1i", "1.0", "1.", ".5", "1e-3", "1.0f", "0x1F", "1h", "0x1p4f", "0x1.8p-2h", "0x.8", "1lf"]
        {
            assert!(literal_ok(ok), "{ok}");
        }
        for bad in ["0x", "1e", "1e-", "1.0u", "0x1.u", "1x", "0x1pf"] {
            assert!(!literal_ok(bad), "{bad}");
        }
        for prefix in ["0x", "1e", "1e-", "0x1p", "1l"] {
            assert!(literal_prefix_ok(prefix), "{prefix}");
        }
    }

    #[test]
    fn operators_lex_longest_first() {
        for op in OPERATORS.iter().chain(&[AT]) {
            assert_eq!(operator_len(op.as_bytes()), Some(op.len()), "{op}");
            let longest = OPERATORS.iter().filter(|o| format!("{op}=").starts_with(*o)).map(|o| o.len()).max();
            assert_eq!(operator_len(format!("{op}=").as_bytes()), longest.or(Some(1)), "{op}=");
        }
        assert_eq!(operator_len(b">>="), Some(3));
        assert_eq!(operator_len(b"<<"), Some(2));
        assert_eq!(operator_len(b"#"), None);
    }

    #[test]
    fn deep_nesting_is_dead_not_a_stack_overflow() {
        let deep = |open: &str, n: usize| open.repeat(n);
        // On a thread with a small stack, to be sure the depth bound holds it.
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || {
                assert_eq!(check_prefix(&deep("(", 150), Goal::Expression), Open);
                for text in [deep("(", 5000), deep("- ", 5000), deep("a[", 5000), deep("vec2<", 5000), deep("f(", 5000)]
                {
                    assert_eq!(check_prefix(&text, Goal::Expression), Dead, "{}", &text[..10]);
                }
                assert_eq!(check_prefix(&deep("{", 5000), Goal::Statements), Dead);
                assert_eq!(check_prefix(&deep("if a {} else ", 5000), Goal::Statements), Dead);
                assert_eq!(check_prefix(&deep("loop {", 5000), Goal::Statements), Dead);
            })
            .expect("a thread")
            .join()
            .expect("no overflow");
    }

    #[test]
    fn keywords_are_reserved() {
        assert!(KEYWORDS.iter().all(|k| is_reserved(k)));
        assert!(is_reserved("_") && !is_reserved("vec3") && !is_reserved("position"));
    }

    #[test]
    fn the_brief_s_dead_examples() {
        for text in [
            "fn main() { let x = f(1.0));",
            "fn main() -> {",
            "fn main() { let x = vec3<f32>(1.0, / 0.0",
            "let x = 1.0;",
            "1.0 + 2.0",
            "fn f() -> f32 -> f32 {",
            "struct S { @location(; }",
            "@fragment fn main(@location(0) uv: vec2<f32>) -> @location(0) vec4<f32> { let color = mix(vec3<f32>(1.0, / 0.0",
        ] {
            assert_eq!(module(text), Dead, "{text}");
        }
        assert_eq!(check_prefix("let x = vec3<f32>(1.0, / 0.0", Goal::Statements), Dead);
        assert_eq!(check_prefix("@location(", Goal::Module), Open);
        assert_eq!(check_prefix("@location(;", Goal::Module), Dead);
        assert_eq!(check_prefix("(1.0))", Goal::Expression), Dead);
    }

    #[test]
    fn open_and_complete() {
        assert_eq!(module("fn main() {"), Open);
        assert_eq!(module("fn main() {}"), Complete);
        assert_eq!(module(""), Open);
        assert_eq!(module("// only a comment"), Open);
        assert_eq!(
            module("@fragment fn main() -> @location(0) vec4<f32> { return vec4<f32>(1.0, 0.0, 0.0, 1.0); }"),
            Complete
        );
        assert_eq!(
            module("@fragment fn main() -> @location(0) vec4<f32> { return vec4<f32>(1.0, 0.0, 0.0, 1.0); "),
            Open
        );
        assert_eq!(module("fn f() {} /* unclosed"), Open);
        assert_eq!(module("fn f() {} // a line comment"), Complete);
        assert_eq!(check_prefix("let x = 1.0;", Goal::Statements), Complete);
        assert_eq!(check_prefix("let x = 1.0", Goal::Statements), Open);
        assert_eq!(check_prefix("if x > 0.5 { return a; }", Goal::Statements), Complete);
        assert_eq!(check_prefix("if x > 0.5 { return a; } else", Goal::Statements), Open);
        assert_eq!(check_prefix("1.0 +", Goal::Expression), Open);
        assert_eq!(check_prefix("1.0 + ", Goal::Expression), Open);
        assert_eq!(check_prefix("1.0 + )", Goal::Expression), Dead);
        assert_eq!(check_prefix("1.0 + x ", Goal::Expression), Complete);
        assert_eq!(check_prefix("1.0;", Goal::Expression), Dead);
        assert_eq!(check_prefix("normalize(v) * 2.0", Goal::Expression), Complete);
    }

    #[test]
    fn the_last_lexeme_may_be_cut() {
        assert_eq!(module("fn main() { let v = vec"), Open);
        assert_eq!(module("var<private> v: vec"), Open);
        assert_eq!(module("f"), Open);
        assert_eq!(module("foo"), Dead);
        assert_eq!(module("fn main() -"), Open);
        assert_eq!(module("fn main() - "), Dead);
        assert_eq!(check_prefix("a <", Goal::Expression), Open);
        assert_eq!(check_prefix("a &", Goal::Expression), Open);
        assert_eq!(check_prefix("1", Goal::Expression), Complete);
        assert_eq!(check_prefix("0x", Goal::Expression), Open);
        assert_eq!(check_prefix("0x ", Goal::Expression), Dead);
        assert_eq!(check_prefix("1e-", Goal::Expression), Open);
        assert_eq!(check_prefix("a.", Goal::Expression), Open);
        assert_eq!(check_prefix("a + .", Goal::Expression), Open);
        assert_eq!(check_prefix("a /", Goal::Expression), Open);
        assert_eq!(check_prefix("a / ", Goal::Expression), Open);
        assert_eq!(check_prefix("(a) /", Goal::Statements), Open);
        assert_eq!(module("fn f() {} /"), Open);
        assert_eq!(module("fn f() {} / "), Dead);
        assert_eq!(module("fn f() { re"), Open);
        assert_eq!(module("fn f() { return tr"), Open);
    }

    #[test]
    fn templates_close_with_split_shifts() {
        assert_eq!(module("var<private> a: array<vec4<f32>>;"), Complete);
        assert_eq!(module("var<private> a: array<vec4<f32>, 4>;"), Complete);
        assert_eq!(module("var<private> a: array<vec4<f32>>"), Open);
        assert_eq!(module("@group(0) @binding(0) var t: texture_storage_2d<rgba8unorm, write>;"), Complete);
        assert_eq!(module("@group(0) @binding(0) var<storage, read_write> b: array<u32>;"), Complete);
        assert_eq!(module("@group(0) @binding(0) var<storaj, read_write> b: array<u32>;"), Dead);
        assert_eq!(module("fn f(p: ptr<function, f32>) { *p = 1.0; }"), Complete);
        assert_eq!(check_prefix("a >> b", Goal::Expression), Complete);
        assert_eq!(check_prefix("bitcast<u32>(x) << 2u", Goal::Expression), Complete);
        assert_eq!(check_prefix("array<f32, 3>(1.0, 2.0, 3.0)", Goal::Expression), Complete);
        assert_eq!(check_prefix("vec3<f32>", Goal::Expression), Open);
        assert_eq!(check_prefix("vec3<f32>;", Goal::Expression), Dead);
        assert_eq!(check_prefix("a < b", Goal::Expression), Complete);
    }

    #[test]
    fn statements_of_every_kind() {
        let body = "var i: i32 = 0; var<function> s = 0.0; const k = 2; let p = &s; *p += 1.0; i++; i--; _ = k;
            s = f(s); g(); for (var j = 0u; j < 4u; j++) { s *= 2.0; } for (;;) { break; }
            while i < 10 { i += 1; continue; } loop { i <<= 1; continuing { break if i > 100; } }
            switch i { case 1, 2: { discard; } case 3, default { } } if (i == 0) { } else if i == 1 { } else { }
            { ; } const_assert k == 2; return s;";
        assert_eq!(check_prefix(body, Goal::Statements), Complete);
        assert_eq!(check_prefix("a + b;", Goal::Statements), Dead);
        assert_eq!(check_prefix("f(x).y;", Goal::Statements), Dead);
        assert_eq!(check_prefix("fn f() {}", Goal::Statements), Dead);
    }

    #[test]
    fn functions_have_no_entry_point() {
        let functions = |text: &str| check_prefix(text, Goal::Functions);
        assert_eq!(functions("fn gray(c: vec3<f32>) -> f32 { return dot(c, vec3<f32>(0.3, 0.6, 0.1)); }"), Complete);
        assert_eq!(functions("@fragment fn main"), Dead);
        assert_eq!(functions("struct S { x: f32 } @compute "), Dead);
        // `@comp` may still grow into an attribute that is allowed.
        assert_eq!(functions("@comp"), Open);
        assert_eq!(module("@fragment fn main() -> @location(0) vec4<f32> { return vec4<f32>(); }"), Complete);
    }

    #[test]
    fn calls_take_as_many_arguments_as_the_function() {
        let body = |text: &str| module(&format!("fn f(x: f32, t: texture_2d<f32>, s: sampler) -> f32 {{ {text}"));
        assert_eq!(body("return min(x, 1.0, x"), Dead);
        assert_eq!(body("return min(x, 1.0,"), Open);
        assert_eq!(body("return min(x, 1.0,); }"), Complete);
        assert_eq!(body("return sqrt(); }"), Dead);
        assert_eq!(body("return clamp(x, 0.0); }"), Dead);
        assert_eq!(body("return textureSample(t, s, vec2<f32>(x)).r; }"), Complete);
        assert_eq!(body("return textureSample(t, s, vec2<f32>(x), vec2<i32>(1), 0, x"), Dead);
        assert_eq!(body("let v = vec3<f32>(x, x, x, x"), Dead);
        assert_eq!(body("let v = vec3f(x, x, x); let w = vec4(v, x); return w.x; }"), Complete);
        assert_eq!(body("let m = mat2x2<f32>(x, x, x, x); return m[0].x; }"), Complete);
        assert_eq!(body("let m = mat2x2<f32>(x, x, x, x, x"), Dead);
        assert_eq!(body("return f32(x, x"), Dead);
        // A declaration of the same name hides the predeclared function.
        assert_eq!(
            module("fn min(a: f32, b: f32, c: f32) -> f32 { return a; } fn g() -> f32 { return min(1.0, 2.0, 3.0); }"),
            Complete
        );
    }

    #[test]
    fn predeclared_types_and_functions_are_values_only_when_called() {
        let body = |text: &str| module(&format!("fn f(x: f32) -> f32 {{ {text}"));
        assert_eq!(body("return x < f32 > (x);"), Dead);
        assert_eq!(body("return min(x, sqrt);"), Dead);
        assert_eq!(body("return min(x, sqrt"), Open);
        assert_eq!(body("let a = array<f32, 2>(x, x); return a[1]; }"), Complete);
        assert_eq!(body("return bitcast<f32>(1u); }"), Complete);
        assert_eq!(module("fn f(length: f32) -> f32 { return length; }"), Complete);
        assert_eq!(
            module("@vertex fn main(@builtin(position) p: vec4<f32>) -> @builtin(position) vec4<f32> { return p; }"),
            Complete
        );
        assert_eq!(check_prefix("sqrt + 1.0", Goal::Expression), Dead);
    }

    #[test]
    fn a_scope_declares_a_name_once() {
        assert_eq!(module("fn f(a: f32, a"), Open);
        assert_eq!(module("fn f(a: f32, a:"), Dead);
        assert_eq!(module("fn f(a: f32) { let a = 1.0;"), Dead);
        assert_eq!(module("fn f(a: f32) { { let a = 1.0; } }"), Complete);
        assert_eq!(module("fn f() { let b = 1.0; var b"), Open);
        assert_eq!(module("fn f() { let b = 1.0; var b ="), Dead);
        assert_eq!(module("fn f() { for (var i = 0; i < 2; i++) { let i = 1; } }"), Complete);
        assert_eq!(module("fn f() {} fn f"), Open);
        assert_eq!(module("fn f() {} fn f("), Dead);
        assert_eq!(module("struct S { x: f32 } const S ="), Dead);
        assert_eq!(check_prefix("let x = 1.0; let x =", Goal::Statements), Dead);
        assert_eq!(check_prefix("let x = 1.0; { let x = 2.0; }", Goal::Statements), Complete);
    }

    #[test]
    fn only_pointers_and_references_are_dereferenced_or_taken() {
        let body = |text: &str| module(&format!("fn f(p: ptr<function, f32>) -> f32 {{ var x = 1.0; {text}"));
        assert_eq!(body("return *p + *&x; }"), Complete);
        assert_eq!(body("let q = &*p; return *q; }"), Complete);
        assert_eq!(body("return *1.0"), Dead);
        assert_eq!(body("return * vec4<f32>("), Dead);
        assert_eq!(body("return *sqrt("), Dead);
        assert_eq!(body("return * *p"), Dead);
        assert_eq!(body("return * -x"), Dead);
        assert_eq!(body("return *true;"), Dead);
        assert_eq!(body("return -*p; }"), Complete);
    }

    #[test]
    fn scope_in_function_bodies() {
        assert_eq!(module("fn f() -> f32 { return p;"), Dead);
        assert_eq!(module("fn f() -> f32 { return p"), Open);
        assert_eq!(module("fn f(q: f32) -> f32 { return q; }"), Complete);
        assert_eq!(module("fn f() -> f32 { { let a = 1.0; } return a;"), Dead);
        assert_eq!(module("const a = 1.0; fn f() -> f32 { return a * abs(a); }"), Complete);
        assert_eq!(module("fn f() -> f32 { return a; } const a = 1.0;"), Dead);
        // Called before declared: open until declared.
        let call = "fn a() -> f32 { return b(); }";
        assert_eq!(module(call), Open);
        assert_eq!(module(&format!("{call} fn b() -> f32 {{ return 1.0; }}")), Complete);
        // Types may come later too.
        assert_eq!(module("fn f(s: S) {}"), Open);
        assert_eq!(module("fn f(s: S) {} struct S { x: f32 }"), Complete);
        // Snippet goals have free names.
        assert_eq!(check_prefix("return p;", Goal::Statements), Complete);
        assert_eq!(check_prefix_free("fn f() -> f32 { return p; }", Goal::Module), Complete);
    }

    #[test]
    fn module_scope_items() {
        let text = "enable f16;
            requires readonly_and_readwrite_storage_textures;
            diagnostic(off, derivative_uniformity);
            alias V = vec3<f32>;
            struct In { @builtin(position) pos: vec4<f32>, @location(0) @interpolate(flat) id: u32, }
            @id(3) override scale: f32 = 1.0;
            const N = 4;
            var<workgroup> tile: array<f32, N * 2>;
            const_assert N > 2;
            ;
            @compute @workgroup_size(8, 8, 1) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
                tile[gid.x] = scale;
            }";
        assert_eq!(module(text), Complete);
        assert_eq!(module("let x = 1.0;"), Dead);
        assert_eq!(module("x = 1.0;"), Dead);
        assert_eq!(module("@fragment struct S { x: f32 }"), Dead);
    }

    #[test]
    fn an_unfinished_answer_closes_where_a_statement_or_declaration_ended() {
        let text = "struct S { a: f32, }\n@fragment\nfn main() -> @location(0) vec4<f32> {\n    let c = 0.5;\n    let d = vec4<f32>(c, ";
        let closed = closings(text, Goal::Module);
        assert_eq!(
            closed[0],
            "struct S { a: f32, }\n@fragment\nfn main() -> @location(0) vec4<f32> {\n    let c = 0.5;\n    return vec4<f32>();\n}"
        );
        assert!(crate::wgsl::validate_module(&closed[0]).is_empty(), "{}", closed[0]);
        assert!(closed.iter().any(|c| c.ends_with("vec4<f32> {\n    return vec4<f32>();\n}")), "{closed:?}");
        assert_eq!(closed.last().unwrap(), "struct S { a: f32, }");
        assert_eq!(closings("let a = 1.0;\nlet b = (a", Goal::Statements), vec!["let a = 1.0;".to_string()]);
        assert!(closings("vec4<f32>(1.0, ", Goal::Expression).is_empty());
        // `min` may still become a call, so the expression is not complete there.
        assert_eq!(closings("a * (b + c) - min(a, ", Goal::Expression), ["a * (b + c)", "a"]);
    }
}
