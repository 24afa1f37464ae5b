//! Small text helpers shared by every error that points into a file.

/// 1-based line and column (in characters) of a byte offset; offsets past the end or inside a
/// character are clamped back to the nearest character start.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

/// A message folded onto one line, so a diagnostic stays one line.
pub fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 7), (2, 4));
        assert_eq!(line_col(text, 6), (2, 3), "inside é clamps to its start");
        assert_eq!(line_col(text, 99), (3, 2));
    }

    #[test]
    fn one_line_folds_whitespace() {
        assert_eq!(one_line(" a\n  b\tc "), "a b c");
    }
}
