//! The word vocabulary: the specials, then whitespace-separated words. Meant for small formal
//! languages (e.g. `X means jump do X twice` -> `JUMP JUMP`) where every word is a token and an
//! unseen word is `<unk>`, not spelt out.

use std::collections::HashMap;

use super::vocab::{check_unique, SPECIALS};

/// The words of `text`, in order: what a word tokenizer maps one-to-one to ids.
pub(super) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
}

/// The piece list for a corpus: specials, then words seen at least `min_freq` times, most frequent
/// first with ties broken by the word, so ids never depend on hash or text order. A word spelt like
/// a special is left out; encoding maps it to `<unk>`.
pub(super) fn build_pieces<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for text in texts {
        for word in words(text) {
            *counts.entry(word).or_default() += 1;
        }
    }
    let mut learned: Vec<(&str, usize)> =
        counts.into_iter().filter(|&(word, n)| n >= min_freq && !SPECIALS.contains(&word)).collect();
    learned.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let specials = SPECIALS.iter().map(|s| s.to_string());
    specials.chain(learned.into_iter().map(|(word, _)| word.to_owned())).collect()
}

/// Checks a loaded word piece list: the specials in place, no empty piece, no piece containing
/// whitespace (encoding could never produce it) and no piece twice.
pub(super) fn check(pieces: &[String]) -> Result<(), String> {
    if pieces.len() < SPECIALS.len() {
        return Err(format!("{} pieces, expected at least {}", pieces.len(), SPECIALS.len()));
    }
    if let Some((id, (got, want))) = pieces.iter().zip(SPECIALS).enumerate().find(|(_, (g, w))| g != w) {
        return Err(format!("piece {id} is {got:?}, expected {want:?}"));
    }
    for (id, piece) in pieces.iter().enumerate() {
        if piece.is_empty() {
            return Err(format!("piece {id} is empty"));
        }
        if piece.contains(char::is_whitespace) {
            return Err(format!("piece {id} {piece:?} contains whitespace, which a word piece cannot"));
        }
    }
    check_unique(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn learned(texts: &[&str], min_freq: usize) -> Vec<String> {
        build_pieces(texts.iter().copied(), min_freq).split_off(SPECIALS.len())
    }

    #[test]
    fn specials_come_first() {
        assert_eq!(build_pieces([], 1), SPECIALS);
    }

    #[test]
    fn words_sort_by_count_then_word() {
        assert_eq!(learned(&["X means jump do X", "JUMP\tJUMP\n"], 1), ["JUMP", "X", "do", "jump", "means"]);
    }

    #[test]
    fn min_freq_excludes_rare_words_and_specials_are_not_learned() {
        assert_eq!(learned(&["a b b <unk> <unk> <eos>", "c a"], 2), ["a", "b"]);
        assert_eq!(learned(&["a b b", "c a"], 0), ["a", "b", "c"]);
    }

    #[test]
    fn check_accepts_a_built_list() {
        assert_eq!(check(&build_pieces(["X means jump do X"], 1)), Ok(()));
    }

    #[test]
    fn check_rejects_bad_lists() {
        let good = build_pieces(["X means jump do X"], 1);
        assert_eq!(check(&good[..2]), Err("2 pieces, expected at least 4".into()));

        let mut swapped = good.clone();
        swapped.swap(1, 2);
        assert_eq!(check(&swapped), Err(r#"piece 1 is "<bos>", expected "<unk>""#.into()));

        let mut spaced = good.clone();
        spaced[5] = "jump twice".into();
        assert_eq!(
            check(&spaced),
            Err(r#"piece 5 "jump twice" contains whitespace, which a word piece cannot"#.into())
        );

        let mut empty = good.clone();
        empty.push(String::new());
        assert_eq!(check(&empty), Err(format!("piece {} is empty", good.len())));

        let mut repeated = good.clone();
        repeated.push("X".into());
        assert_eq!(check(&repeated), Err(format!("piece {} \"X\" repeats piece 4", good.len())));
    }
}
