//! The vocabulary: which pieces get ids, in which order, and the checks a saved piece list must pass.
//!
//! Ids are laid out as specials, 256 byte tokens, every printable ASCII char plus tab and newline,
//! then learned pieces. The first two parts are fixed so a checkpoint's ids mean the same thing in
//! every build; the ASCII part means an unknown ASCII piece is spelt by chars, never by bytes.

use std::collections::HashMap;

use super::lexer::pieces;

/// Special pieces in id order, so `SPECIALS[PAD_ID]` is `<pad>`.
pub(super) const SPECIALS: [&str; 4] = ["<pad>", "<unk>", "<bos>", "<eos>"];
/// Id of `<0x00>`; byte `b` has id `FIRST_BYTE_ID + b`.
pub(super) const FIRST_BYTE_ID: i64 = SPECIALS.len() as i64;
/// First id after the byte tokens.
pub(super) const FIRST_TEXT_ID: i64 = FIRST_BYTE_ID + 256;

fn byte_piece(byte: u8) -> String {
    format!("<0x{byte:02X}>")
}

/// Specials then byte tokens: the part of the piece list the file format fixes.
fn fixed_pieces() -> impl Iterator<Item = String> {
    let specials = SPECIALS.iter().map(|s| s.to_string());
    specials.chain((0..=u8::MAX).map(byte_piece))
}

fn is_base_char(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b' '..=b'~')
}

fn is_base_piece(piece: &str) -> bool {
    matches!(piece.as_bytes(), &[b] if is_base_char(b))
}

/// The piece list for a corpus: fixed pieces, base chars, then pieces seen at least `min_freq`
/// times, most frequent first with ties broken by the piece, so ids never depend on hash order.
pub(super) fn build_pieces<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for text in texts {
        for piece in pieces(text) {
            *counts.entry(piece).or_default() += 1;
        }
    }
    let mut learned: Vec<(&str, usize)> =
        counts.into_iter().filter(|&(piece, n)| n >= min_freq && !is_base_piece(piece)).collect();
    learned.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let base = (0..=0x7F_u8).filter(|&b| is_base_char(b)).map(|b| char::from(b).to_string());
    let learned = learned.into_iter().map(|(piece, _)| piece.to_owned());
    fixed_pieces().chain(base).chain(learned).collect()
}

/// Checks a loaded piece list: the fixed pieces in place and no piece twice. The error says what
/// is wrong, for a message that also names the file.
pub(super) fn check(pieces: &[String]) -> Result<(), String> {
    let fixed: Vec<String> = fixed_pieces().collect();
    if pieces.len() < fixed.len() {
        return Err(format!("{} pieces, expected at least {}", pieces.len(), fixed.len()));
    }
    if let Some((id, (got, want))) = pieces.iter().zip(&fixed).enumerate().find(|(_, (g, w))| g != w) {
        return Err(format!("piece {id} is {got:?}, expected {want:?}"));
    }
    check_unique(pieces)
}

/// Checks that no piece appears twice; the error names the later id and the first one.
pub(super) fn check_unique(pieces: &[String]) -> Result<(), String> {
    let mut first_id = HashMap::with_capacity(pieces.len());
    for (id, piece) in pieces.iter().enumerate() {
        if let Some(first) = first_id.insert(piece.as_str(), id) {
            return Err(format!("piece {id} {piece:?} repeats piece {first}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE_LEN: usize = 4 + 256 + 2 + 95;

    fn learned(texts: &[&str], min_freq: usize) -> Vec<String> {
        build_pieces(texts.iter().copied(), min_freq).split_off(BASE_LEN)
    }

    #[test]
    fn base_pieces_come_first_in_fixed_order() {
        let pieces = build_pieces([], 1);
        assert_eq!(pieces.len(), BASE_LEN);
        assert_eq!(&pieces[..4], SPECIALS);
        assert_eq!(pieces[FIRST_BYTE_ID as usize], "<0x00>");
        assert_eq!(pieces[FIRST_TEXT_ID as usize - 1], "<0xFF>");
        assert_eq!(&pieces[FIRST_TEXT_ID as usize..][..3], ["\t", "\n", " "]);
        assert_eq!(pieces.last().map(String::as_str), Some("~"));
    }

    #[test]
    fn learned_pieces_sort_by_count_then_piece() {
        assert_eq!(learned(&["vec mat mat", "abc vec mat"], 1), ["mat", "vec", "abc"]);
    }

    #[test]
    fn min_freq_excludes_rare_pieces() {
        assert_eq!(learned(&["vec mat mat", "abc vec mat"], 2), ["mat", "vec"]);
        assert_eq!(learned(&["vec mat mat", "abc vec mat"], 3), ["mat"]);
    }

    #[test]
    fn base_chars_are_not_learned_twice_but_other_chars_are() {
        assert_eq!(learned(&["a ; a ✓"], 1), ["✓"]);
    }

    #[test]
    fn check_accepts_a_built_list() {
        assert_eq!(check(&build_pieces(["fn main"], 1)), Ok(()));
    }

    #[test]
    fn check_rejects_short_lists_moved_specials_and_duplicates() {
        let good = build_pieces(["fn main"], 1);
        assert_eq!(check(&good[..10]), Err("10 pieces, expected at least 260".into()));

        let mut swapped = good.clone();
        swapped.swap(0, 3);
        assert_eq!(check(&swapped), Err(r#"piece 0 is "<eos>", expected "<pad>""#.into()));

        let mut repeated = good.clone();
        repeated.push("fn".into());
        let last = repeated.len() - 1;
        assert!(check(&repeated).is_err_and(|e| e.starts_with(&format!("piece {last} \"fn\""))));
    }
}
