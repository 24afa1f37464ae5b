//! The lexer: splits text into pieces whose concatenation is exactly the text.
//!
//! Pieces follow WGSL's lexical shapes (identifiers, suffixed numbers, multi-char operators) so a
//! shader needs few tokens, and prose goes through the same rules (words, numbers, punctuation,
//! spaces). Comments are not a lexer state: `//`, `/*` and `*/` are pieces and the comment text
//! around them splits like any other text.

/// Multi-char operators, longer ones first so the first match is the longest.
///
/// `>>` and `>>=` are missing on purpose: `array<vec4<f32>>` must close with two `>` pieces, and
/// a shift written `>` `>` decodes to the same text.
const OPERATORS: [&str; 22] = [
    "<<=", "->", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "++", "--", "<<",
    "//", "/*", "*/",
];

/// Splits `text` into pieces; `pieces(text).concat() == text` for every string.
pub fn pieces(text: &str) -> Vec<&str> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut rest = text;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(piece_len(rest));
        out.push(piece);
        rest = tail;
    }
    out
}

/// Byte length of the piece at the start of the non-empty `s`; always at least one char.
fn piece_len(s: &str) -> usize {
    let b = s.as_bytes();
    match b[0] {
        b'\r' if b.get(1) == Some(&b'\n') => 2,
        // One piece per run, so an indentation level is a single token.
        b' ' | b'\t' => run_end(b, 0, |c| c == b' ' || c == b'\t'),
        c if is_ident_start(c) => run_end(b, 0, is_ident_continue),
        c if c.is_ascii_digit() => number_len(b),
        b'.' if b.get(1).is_some_and(u8::is_ascii_digit) => number_len(b),
        _ => operator_len(s).unwrap_or_else(|| first_char_len(s)),
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_continue(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Index of the first byte at or after `from` that fails `keep`.
fn run_end(b: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    from + b.get(from..).map_or(0, |tail| tail.iter().take_while(|&&c| keep(c)).count())
}

fn operator_len(s: &str) -> Option<usize> {
    OPERATORS.iter().find(|op| s.starts_with(*op)).map(|op| op.len())
}

fn first_char_len(s: &str) -> usize {
    s.chars().next().map_or(s.len(), char::len_utf8)
}

/// A WGSL numeric literal with its suffix: `1u`, `0.5f`, `.5`, `1.`, `1e-3`, `0xFFu`, `0x1p4f`.
fn number_len(b: &[u8]) -> usize {
    if let Some(len) = hex_len(b) {
        return len;
    }
    let int_end = run_end(b, 0, |c| c.is_ascii_digit());
    let (end, has_dot) = after_fraction(b, int_end, |c| c.is_ascii_digit());
    match exponent_end(b, end, b"eE") {
        Some(exp_end) => exp_end + suffix_len(b, exp_end, b"fh"),
        None if has_dot => end + suffix_len(b, end, b"fh"),
        None => end + suffix_len(b, end, b"iufh"),
    }
}

/// A hex literal, or `None` when `0x` has no hex digit after it (then `0` is the number).
fn hex_len(b: &[u8]) -> Option<usize> {
    if !(b.starts_with(b"0x") || b.starts_with(b"0X")) {
        return None;
    }
    let int_end = run_end(b, 2, |c| c.is_ascii_hexdigit());
    let (end, has_dot) = after_fraction(b, int_end, |c| c.is_ascii_hexdigit());
    if end == 2 + usize::from(has_dot) {
        return None;
    }
    // `f` is a hex digit, so a hex float takes a suffix only after its `p` exponent.
    Some(match exponent_end(b, end, b"pP") {
        Some(exp_end) => exp_end + suffix_len(b, exp_end, b"fh"),
        None if has_dot => end,
        None => end + suffix_len(b, end, b"iu"),
    })
}

/// End of an optional `.digits` part starting at `at`, and whether there was a dot.
fn after_fraction(b: &[u8], at: usize, digit: impl Fn(u8) -> bool) -> (usize, bool) {
    match b.get(at) {
        Some(b'.') => (run_end(b, at + 1, digit), true),
        _ => (at, false),
    }
}

/// End of an exponent such as `e-3` at `at`; `None` unless a digit follows the sign.
fn exponent_end(b: &[u8], at: usize, marks: &[u8]) -> Option<usize> {
    if !b.get(at).is_some_and(|c| marks.contains(c)) {
        return None;
    }
    let digits_start = at + 1 + usize::from(matches!(b.get(at + 1), Some(b'+' | b'-')));
    let end = run_end(b, digits_start, |c| c.is_ascii_digit());
    (end > digits_start).then_some(end)
}

/// 1 when a suffix from `allowed` sits at `at` and ends the word: `2in` is `2` `in`, not `2i` `n`.
fn suffix_len(b: &[u8], at: usize, allowed: &[u8]) -> usize {
    let is_suffix = b.get(at).is_some_and(|c| allowed.contains(c));
    let word_goes_on = b.get(at + 1).is_some_and(|&c| is_ident_continue(c));
    usize::from(is_suffix && !word_goes_on)
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn nested_generics_close_with_two_angle_pieces() {
        assert_eq!(pieces("array<vec4<f32>>"), ["array", "<", "vec4", "<", "f32", ">", ">"]);
    }

    #[test]
    fn numbers_keep_their_suffix() {
        assert_eq!(
            pieces("1u 2i 0.5f 1h .5 0xFFu 1e-3"),
            ["1u", " ", "2i", " ", "0.5f", " ", "1h", " ", ".5", " ", "0xFFu", " ", "1e-3"]
        );
    }

    #[test]
    fn floats_with_dots_exponents_and_hex() {
        assert_eq!(
            pieces("1. 1.5e+2f 0x1p4f 0x1.8p-2h 0x1f 0x.8"),
            ["1.", " ", "1.5e+2f", " ", "0x1p4f", " ", "0x1.8p-2h", " ", "0x1f", " ", "0x.8"]
        );
    }

    #[test]
    fn suffix_is_not_taken_from_a_following_word() {
        assert_eq!(pieces("64bit 2in 1e5x 0xFFuv"), ["64", "bit", " ", "2", "in", " ", "1e5", "x", " ", "0xFF", "uv"]);
    }

    #[test]
    fn incomplete_exponent_and_hex_prefix_are_not_numbers() {
        assert_eq!(pieces("1e+ 0x"), ["1", "e", "+", " ", "0", "x"]);
    }

    #[test]
    fn entry_point_signature() {
        assert_eq!(
            pieces("@fragment fn main() -> @location(0) vec4<f32> {"),
            [
                "@", "fragment", " ", "fn", " ", "main", "(", ")", " ", "->", " ", "@", "location", "(", "0", ")", " ",
                "vec4", "<", "f32", ">", " ", "{"
            ]
        );
    }

    #[test]
    fn shifts_to_the_right_are_split() {
        assert_eq!(pieces("a >>= b"), ["a", " ", ">", ">=", " ", "b"]);
        assert_eq!(pieces("a>>b"), ["a", ">", ">", "b"]);
    }

    #[test]
    fn comparison_and_assignment_operators_are_one_piece() {
        assert_eq!(pieces("x<=y"), ["x", "<=", "y"]);
        assert_eq!(
            pieces("a<<=1;b!=c&&d||e;i++;j--;k%=2;m^=n"),
            [
                "a", "<<=", "1", ";", "b", "!=", "c", "&&", "d", "||", "e", ";", "i", "++", ";", "j", "--", ";", "k",
                "%=", "2", ";", "m", "^=", "n"
            ]
        );
    }

    #[test]
    fn comments_split_like_text() {
        assert_eq!(
            pieces("// sum of a, b\nx /* y */"),
            ["//", " ", "sum", " ", "of", " ", "a", ",", " ", "b", "\n", "x", " ", "/*", " ", "y", " ", "*/"]
        );
    }

    #[test]
    fn crlf_newlines_and_indentation_are_pieces() {
        assert_eq!(pieces("{\r\n    return;\r\n}\r\n"), ["{", "\r\n", "    ", "return", ";", "\r\n", "}", "\r\n"]);
        assert_eq!(pieces("a\rb"), ["a", "\r", "b"]);
    }

    #[test]
    fn tabs_indent_and_separate() {
        assert_eq!(pieces("\tlet x\t= 1;\n\t\t"), ["\t", "let", " ", "x", "\t", "=", " ", "1", ";", "\n", "\t\t"]);
    }

    #[test]
    fn prose_splits_into_words_and_punctuation() {
        assert_eq!(
            pieces("Draw a red square, size 2.5."),
            ["Draw", " ", "a", " ", "red", " ", "square", ",", " ", "size", " ", "2.5", "."]
        );
    }

    #[test]
    fn non_ascii_chars_are_single_pieces() {
        assert_eq!(pieces("日本語 ✓"), ["日", "本", "語", " ", "✓"]);
        assert!(pieces("").is_empty());
    }
}
