//! Tokenizers. One [`Tokenizer`] type with two kinds, fixed when it is built and saved with it:
//!
//! - `wgsl` ([`Tokenizer::build`]): the lossless WGSL-aware tokenizer shared by prompts and code.
//!   [`pieces`] splits text into pieces whose concatenation is the text. Frequent pieces get their
//!   own id; any other piece is spelt char by char, and a char the vocab lacks by its UTF-8 bytes,
//!   so `decode(&encode(s)) == s` for every string and encoding never fails.
//! - `words` ([`Tokenizer::build_words`]): a whitespace word tokenizer for small formal languages
//!   such as `X means jump do X twice` -> `JUMP JUMP`. Each whitespace-separated word is one id,
//!   an unknown word is [`UNK_ID`], and decoding joins the words with single spaces, so it is
//!   lossless only up to whitespace and unknown words.

pub mod bpe;
mod lexer;
mod vocab;
mod words;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use lexer::pieces;
use vocab::{FIRST_BYTE_ID, FIRST_TEXT_ID};

use crate::error::{Result, TatError};

pub const PAD_ID: i64 = 0;
pub const UNK_ID: i64 = 1;
pub const BOS_ID: i64 = 2;
pub const EOS_ID: i64 = 3;

/// The `version` a saved tokenizer must carry; its `kind` is a [`Kind`] name.
const VERSION: u32 = 1;

/// How a tokenizer splits text and what its piece list holds; saved as `kind` in `tokenizer.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Lexer pieces with char and byte fallback: specials, byte tokens, ASCII, learned pieces.
    Wgsl,
    /// Whitespace-separated words, unknown ones as `<unk>`: specials, then learned words.
    Words,
}

impl Kind {
    const ALL: [Kind; 2] = [Kind::Wgsl, Kind::Words];

    fn name(self) -> &'static str {
        match self {
            Kind::Wgsl => "wgsl",
            Kind::Words => "words",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tokenizer {
    kind: Kind,
    /// Every piece in id order, specials and byte token names included.
    pieces: Vec<String>,
    /// Piece to id, so encoding costs one lookup per piece.
    ids: HashMap<String, i64>,
    min_freq: usize,
}

/// The JSON layout of `tokenizer.json`.
#[derive(Serialize, Deserialize)]
struct TokenizerFile {
    kind: String,
    version: u32,
    min_freq: usize,
    pieces: Vec<String>,
}

impl Tokenizer {
    /// Builds a vocab from `texts`, learning every piece seen at least `min_freq` times.
    pub fn build<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize) -> Tokenizer {
        Tokenizer::from_pieces(Kind::Wgsl, vocab::build_pieces(texts, min_freq), min_freq)
    }

    /// Builds a word tokenizer from `texts`: the specials (`<pad> <unk> <bos> <eos>`, ids
    /// [`PAD_ID`]..=[`EOS_ID`]), then every whitespace-separated word seen at least `min_freq`
    /// times, most frequent first with ties broken by the word, so the ids are deterministic. A word
    /// spelt like a special is not learned.
    pub fn build_words<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: usize) -> Tokenizer {
        Tokenizer::from_pieces(Kind::Words, words::build_pieces(texts, min_freq), min_freq)
    }

    /// A `words` tokenizer that keeps every id of this one and appends the words of `texts` it
    /// lacks, in [`Tokenizer::build_words`]' order (most frequent first, ties by the word): a run
    /// that starts from a checkpoint (`training.init_from`) reads the words its new data brings
    /// instead of `<unk>`. Other kinds are returned unchanged.
    pub fn with_words<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Tokenizer {
        if self.kind != Kind::Words {
            return self.clone();
        }
        let known = |word: &String| self.ids.contains_key(word.as_str());
        let added = words::build_pieces(texts, 1).into_iter().filter(|word| !known(word));
        Tokenizer::from_pieces(Kind::Words, self.pieces.iter().cloned().chain(added).collect(), self.min_freq)
    }

    fn from_pieces(kind: Kind, pieces: Vec<String>, min_freq: usize) -> Tokenizer {
        let ids = pieces.iter().cloned().zip(0..).collect();
        Tokenizer { kind, pieces, ids, min_freq }
    }

    /// The kind as saved in `tokenizer.json`: `"wgsl"` or `"words"`.
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// The pieces [`Tokenizer::encode`] turns into ids, in order, borrowed from `text`.
    ///
    /// For a `words` tokenizer these are the whitespace-separated words, and encoding maps them
    /// one-to-one to ids: `pieces_of(t).len() == encode(t).len()`, and an unknown word stays its
    /// own string here though its id is [`UNK_ID`]. For a `wgsl` tokenizer these are the lexer
    /// [`pieces`]; a piece the vocab lacks is spelt as several char or byte ids, so the one-to-one
    /// property holds only for `words`.
    pub fn pieces_of<'a>(&self, text: &'a str) -> Vec<&'a str> {
        match self.kind {
            Kind::Wgsl => pieces(text),
            Kind::Words => words::words(text).collect(),
        }
    }

    /// Token ids for `text`, without `<bos>` or `<eos>`. A `words` tokenizer gives one id per
    /// word, [`UNK_ID`] for a word it lacks (or one spelt like a special).
    pub fn encode(&self, text: &str) -> Vec<i64> {
        match self.kind {
            Kind::Wgsl => self.encode_wgsl(text),
            Kind::Words => words::words(text).map(|word| self.word_id(word)).collect(),
        }
    }

    fn word_id(&self, word: &str) -> i64 {
        match self.ids.get(word) {
            Some(&id) if id > EOS_ID => id,
            _ => UNK_ID,
        }
    }

    fn encode_wgsl(&self, text: &str) -> Vec<i64> {
        let mut ids = Vec::with_capacity(text.len() / 2);
        for piece in pieces(text) {
            match self.ids.get(piece) {
                Some(&id) => ids.push(id),
                None => self.spell(piece, &mut ids),
            }
        }
        ids
    }

    /// Spells a piece the vocab lacks char by char, and a char it lacks by its UTF-8 bytes.
    fn spell(&self, piece: &str, ids: &mut Vec<i64>) {
        for (start, ch) in piece.char_indices() {
            let ch = &piece[start..start + ch.len_utf8()];
            match self.ids.get(ch) {
                Some(&id) => ids.push(id),
                None => ids.extend(ch.bytes().map(|b| FIRST_BYTE_ID + i64::from(b))),
            }
        }
    }

    /// The text for `ids`. Specials, negative and out-of-range ids add nothing. For `wgsl`, bytes
    /// that are not valid UTF-8 (only a model can produce them) become U+FFFD; for `words`, the
    /// words are joined by single spaces.
    pub fn decode(&self, ids: &[i64]) -> String {
        match self.kind {
            Kind::Wgsl => self.decode_wgsl(ids),
            Kind::Words => self.decode_words(ids),
        }
    }

    fn decode_words(&self, ids: &[i64]) -> String {
        let words = ids.iter().filter(|&&id| id > EOS_ID).filter_map(|&id| self.id_to_piece(id));
        words.collect::<Vec<_>>().join(" ")
    }

    fn decode_wgsl(&self, ids: &[i64]) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 2);
        for &id in ids {
            match id {
                FIRST_BYTE_ID..FIRST_TEXT_ID => bytes.push((id - FIRST_BYTE_ID) as u8),
                FIRST_TEXT_ID.. => bytes.extend_from_slice(self.id_to_piece(id).unwrap_or_default().as_bytes()),
                _ => {}
            }
        }
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    /// The piece for `id`; a `wgsl` tokenizer's byte tokens are named `<0xNN>`.
    pub fn id_to_piece(&self, id: i64) -> Option<&str> {
        let index = usize::try_from(id).ok()?;
        self.pieces.get(index).map(String::as_str)
    }

    /// Writes the tokenizer as pretty JSON; the caller creates the directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        let file = TokenizerFile {
            kind: self.kind.name().to_owned(),
            version: VERSION,
            min_freq: self.min_freq,
            pieces: self.pieces.clone(),
        };
        let mut json = serde_json::to_string_pretty(&file).map_err(|e| TatError::io(path, e.into()))?;
        json.push('\n');
        std::fs::write(path, json).map_err(|e| TatError::io(path, e))
    }

    /// Reads a tokenizer written by [`Tokenizer::save`]; a missing or malformed file is a
    /// [`TatError::Checkpoint`] naming the file and what is wrong with it.
    pub fn load(path: &Path) -> Result<Tokenizer> {
        let bytes = match std::fs::read(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(checkpoint_error(path, "file not found"));
            }
            read => read.map_err(|e| TatError::io(path, e))?,
        };
        let file = parse(&bytes).map_err(|what| unusable(path, &what))?;
        let kind = file.check().map_err(|what| unusable(path, &what))?;
        Ok(Tokenizer::from_pieces(kind, file.pieces, file.min_freq))
    }
}

impl TokenizerFile {
    /// Checks the kind, version and piece list; returns the kind.
    fn check(&self) -> Result<Kind, String> {
        let Some(kind) = Kind::from_name(&self.kind) else {
            let expected: Vec<String> = Kind::ALL.iter().map(|k| format!("{:?}", k.name())).collect();
            return Err(format!("kind is {:?}, expected {}", self.kind, expected.join(" or ")));
        };
        if self.version != VERSION {
            return Err(format!("version is {}, this build reads version {VERSION}", self.version));
        }
        match kind {
            Kind::Wgsl => vocab::check(&self.pieces)?,
            Kind::Words => words::check(&self.pieces)?,
        }
        Ok(kind)
    }
}

/// Parses `tokenizer.json`; the error names the field that is wrong, e.g. `pieces[3]: ...`.
fn parse(bytes: &[u8]) -> Result<TokenizerFile, String> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let file = serde_path_to_error::deserialize(&mut json).map_err(|e| e.to_string())?;
    json.end().map_err(|e| e.to_string())?;
    Ok(file)
}

fn unusable(path: &Path, what: &str) -> TatError {
    checkpoint_error(path, &format!("not a tiny-agent-trainer tokenizer ({what})"))
}

fn checkpoint_error(path: &Path, problem: &str) -> TatError {
    let path = path.display();
    TatError::Checkpoint(format!("{path}: {problem}; re-create the checkpoint by training again"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHADER: &str =
        "@fragment\nfn main() -> @location(0) vec4<f32> {\n    return vec4<f32>(1.0, 0.0, 0.0, 1.0);\n}\n";

    fn shader_tokenizer() -> Tokenizer {
        Tokenizer::build([SHADER, "Draw a red square."], 1)
    }

    fn checkpoint_message(result: Result<Tokenizer>) -> String {
        match result {
            Err(TatError::Checkpoint(msg)) => msg,
            other => panic!("expected a checkpoint error, got {other:?}"),
        }
    }

    #[test]
    fn specials_and_bytes_have_fixed_ids() {
        let tok = shader_tokenizer();
        let names = [PAD_ID, UNK_ID, BOS_ID, EOS_ID].map(|id| tok.id_to_piece(id));
        assert_eq!(names, [Some("<pad>"), Some("<unk>"), Some("<bos>"), Some("<eos>")]);
        assert_eq!(tok.id_to_piece(4), Some("<0x00>"));
        assert_eq!(tok.id_to_piece(4 + 0x41), Some("<0x41>"));
        assert_eq!(tok.id_to_piece(259), Some("<0xFF>"));
        assert_eq!(tok.id_to_piece(-1), None);
        assert_eq!(tok.id_to_piece(tok.vocab_size() as i64), None);
    }

    #[test]
    fn building_twice_gives_identical_json() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = (dir.path().join("a.json"), dir.path().join("b.json"));
        shader_tokenizer().save(&first).unwrap();
        shader_tokenizer().save(&second).unwrap();
        assert_eq!(std::fs::read(first).unwrap(), std::fs::read(second).unwrap());
    }

    #[test]
    fn text_order_does_not_change_ids() {
        let forward = Tokenizer::build([SHADER, "Draw a red square."], 1);
        let backward = Tokenizer::build(["Draw a red square.", SHADER], 1);
        assert_eq!(forward, backward);
    }

    #[test]
    fn frequent_pieces_are_single_tokens() {
        let tok = shader_tokenizer();
        let ids = tok.encode("vec4<f32>(1.0");
        let names: Vec<_> = ids.iter().map(|&id| tok.id_to_piece(id).unwrap()).collect();
        assert_eq!(names, ["vec4", "<", "f32", ">", "(", "1.0"]);
    }

    #[test]
    fn unknown_ascii_pieces_are_spelt_by_chars() {
        let tok = shader_tokenizer();
        let ids = tok.encode("zq");
        assert_eq!(ids.len(), 2);
        assert!(ids.iter().all(|&id| id >= FIRST_TEXT_ID), "char ids, not bytes: {ids:?}");
        assert_eq!(tok.decode(&ids), "zq");
    }

    #[test]
    fn rare_pieces_are_left_out_by_min_freq() {
        let rare = Tokenizer::build([SHADER], 2);
        assert_eq!(rare.encode("return").len(), "return".len());
        assert_eq!(rare.encode("vec4").len(), 1);
    }

    #[test]
    fn unknown_unicode_round_trips_through_bytes() {
        let tok = shader_tokenizer();
        let text = "日本語 ✓\r\n";
        let ids = tok.encode(text);
        let byte_ids = ids.iter().filter(|&&id| (FIRST_BYTE_ID..FIRST_TEXT_ID).contains(&id));
        assert_eq!(byte_ids.count(), "日本語✓\r".len());
        assert_eq!(tok.decode(&ids), text);
    }

    #[test]
    fn decode_skips_specials_unknown_and_out_of_range_ids() {
        let tok = shader_tokenizer();
        let mut ids = vec![BOS_ID, PAD_ID, UNK_ID, -7, tok.vocab_size() as i64];
        ids.extend(tok.encode("fn main"));
        ids.push(EOS_ID);
        assert_eq!(tok.decode(&ids), "fn main");
    }

    #[test]
    fn decode_replaces_invalid_utf8_from_a_model() {
        let tok = shader_tokenizer();
        let ids = [FIRST_BYTE_ID + 0xE6, FIRST_BYTE_ID + i64::from(b'a')];
        assert_eq!(tok.decode(&ids), "\u{FFFD}a");
    }

    #[test]
    fn save_then_load_gives_the_same_tokenizer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let tok = Tokenizer::build([SHADER], 2);
        tok.save(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!((&json["kind"], &json["version"], &json["min_freq"]), (&"wgsl".into(), &1.into(), &2.into()));
        assert_eq!(Tokenizer::load(&path).unwrap(), tok);
    }

    #[test]
    fn load_of_corrupt_json_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        std::fs::write(&path, "{\"kind\": \"wgsl\", ").unwrap();
        let msg = checkpoint_message(Tokenizer::load(&path));
        assert!(msg.starts_with(&format!("{}: not a tiny-agent-trainer tokenizer (", path.display())), "{msg}");
        assert!(msg.ends_with("re-create the checkpoint by training again"), "{msg}");
    }

    #[test]
    fn load_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let cases = [
            (r#"{"kind": "wgsl", "version": 1, "min_freq": 1}"#, "(missing field `pieces`"),
            (
                r#"{"kind": "bpe", "version": 1, "min_freq": 1, "pieces": []}"#,
                r#"(kind is "bpe", expected "wgsl" or "words")"#,
            ),
            (
                r#"{"kind": "wgsl", "version": 2, "min_freq": 1, "pieces": []}"#,
                "(version is 2, this build reads version 1)",
            ),
            (
                r#"{"kind": "wgsl", "version": 1, "min_freq": 1, "pieces": ["<pad>", 5]}"#,
                "(pieces[1]: invalid type: integer `5`",
            ),
            (r#"{"kind": "wgsl", "version": 1, "min_freq": 1, "pieces": []} x"#, "(trailing characters"),
        ];
        for (json, expected) in cases {
            std::fs::write(&path, json).unwrap();
            let msg = checkpoint_message(Tokenizer::load(&path));
            assert!(msg.contains(expected), "{json} gave {msg}");
        }
    }

    #[test]
    fn load_rejects_duplicate_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let mut file =
            TokenizerFile { kind: "wgsl".into(), version: VERSION, min_freq: 1, pieces: shader_tokenizer().pieces };
        file.pieces.push("vec4".into());
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        assert!(checkpoint_message(Tokenizer::load(&path)).contains("\"vec4\" repeats piece"));
    }

    #[test]
    fn load_checks_the_piece_list_of_the_saved_kind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let words = Tokenizer::build_words(["X means jump do X twice"], 1).pieces;
        let cases = [
            ("words", shader_tokenizer().pieces, r#"(piece 260 "\t" contains whitespace"#),
            ("words", vec!["<pad>".into(), "<unk>".into()], "(2 pieces, expected at least 4)"),
            ("wgsl", words.clone(), "(9 pieces, expected at least 260)"),
        ];
        for (kind, pieces, expected) in cases {
            let file = TokenizerFile { kind: kind.into(), version: VERSION, min_freq: 1, pieces };
            std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
            let msg = checkpoint_message(Tokenizer::load(&path));
            assert!(msg.contains(expected), "{kind} gave {msg}");
            assert!(msg.ends_with("re-create the checkpoint by training again"), "{msg}");
        }
        let file = TokenizerFile { kind: "words".into(), version: VERSION, min_freq: 1, pieces: words };
        std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
        assert_eq!(Tokenizer::load(&path).unwrap().kind, Kind::Words);
    }

    #[test]
    fn with_words_keeps_every_id_and_appends_the_new_words() {
        let old = Tokenizer::build_words(["go left", "go right"], 1);
        let grown = old.with_words(["go up up", "left now"]);
        assert_eq!(grown.vocab_size(), old.vocab_size() + 2);
        for id in 0..old.vocab_size() as i64 {
            assert_eq!(grown.id_to_piece(id), old.id_to_piece(id));
        }
        // "up" (twice) before "now" (once); known words keep their ids.
        let n = old.vocab_size() as i64;
        assert_eq!(grown.encode("up now go left"), [n, n + 1, old.encode("go")[0], old.encode("left")[0]]);
        assert_eq!(old.with_words(["go left"]), old);
        let wgsl = Tokenizer::build(["fn main() {}"], 1);
        assert_eq!(wgsl.with_words(["new words"]), wgsl);
    }

    #[test]
    fn words_encode_maps_special_spellings_to_unk() {
        let tok = Tokenizer::build_words(["a <eos> b <pad>"], 1);
        assert_eq!(tok.vocab_size(), 6);
        assert_eq!(tok.encode("a <eos> <bos> b"), [4, UNK_ID, UNK_ID, 5]);
        assert_eq!(tok.pieces_of("a <eos> <bos> b"), ["a", "<eos>", "<bos>", "b"]);
    }

    #[test]
    fn words_decode_skips_specials_and_out_of_range_ids() {
        let tok = Tokenizer::build_words(["JUMP JUMP WALK"], 1);
        let ids = [BOS_ID, 4, PAD_ID, UNK_ID, -3, 5, tok.vocab_size() as i64, 4, EOS_ID];
        assert_eq!(tok.decode(&ids), "JUMP WALK JUMP");
        assert_eq!(tok.decode(&[]), "");
    }

    #[test]
    fn load_of_a_missing_file_is_a_checkpoint_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokenizer.json");
        let msg = checkpoint_message(Tokenizer::load(&path));
        assert_eq!(msg, format!("{}: file not found; re-create the checkpoint by training again", path.display()));
    }
}
