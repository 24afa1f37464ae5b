//! The `words` tokenizer: one id per whitespace-separated word, `<unk>` for unknown words,
//! deterministic ids, and a `tokenizer.json` that keeps its kind.

use tat_core::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID, UNK_ID};
use tat_core::TatError;

const CORPUS: [&str; 4] = ["X means jump do X twice", "JUMP JUMP", "Y means walk do Y thrice", "WALK WALK WALK"];

fn tokenizer() -> Tokenizer {
    Tokenizer::build_words(CORPUS, 1)
}

fn checkpoint_message(result: tat_core::Result<Tokenizer>) -> String {
    match result {
        Err(TatError::Checkpoint(msg)) => msg,
        other => panic!("expected a checkpoint error, got {other:?}"),
    }
}

#[test]
fn build_is_deterministic_and_orders_by_count_then_word() {
    let tok = tokenizer();
    assert_eq!(tok, tokenizer());
    let mut reversed = CORPUS;
    reversed.reverse();
    assert_eq!(Tokenizer::build_words(reversed, 1), tok);
    assert_eq!(tok.kind_name(), "words");

    let names: Vec<_> = (0..tok.vocab_size() as i64).map(|id| tok.id_to_piece(id).unwrap()).collect();
    let expected = [
        "<pad>", "<unk>", "<bos>", "<eos>", "WALK", "JUMP", "X", "Y", "do", "means", "jump", "thrice", "twice", "walk",
    ];
    assert_eq!(names, expected);
    assert_eq!([PAD_ID, UNK_ID, BOS_ID, EOS_ID], [0, 1, 2, 3]);
}

#[test]
fn min_freq_leaves_rare_words_out() {
    let tok = Tokenizer::build_words(CORPUS, 2);
    let names: Vec<_> = (4..tok.vocab_size() as i64).map(|id| tok.id_to_piece(id).unwrap()).collect();
    assert_eq!(names, ["WALK", "JUMP", "X", "Y", "do", "means"]);
    assert_eq!(tok.encode("X means jump"), [6, 9, UNK_ID]);
}

#[test]
fn in_vocab_text_round_trips() {
    let tok = tokenizer();
    let ids = tok.encode("X means jump do X");
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|&id| id > EOS_ID), "{ids:?}");
    assert_eq!(tok.decode(&ids), "X means jump do X");
    // Whitespace is not kept: any run of it decodes as one space.
    assert_eq!(tok.decode(&tok.encode("  JUMP\tJUMP\n")), "JUMP JUMP");
}

#[test]
fn unknown_words_are_unk_but_stay_distinct_pieces() {
    let tok = tokenizer();
    let text = "Z means run do Z";
    let ids = tok.encode(text);
    assert_eq!(ids, [UNK_ID, 9, UNK_ID, 8, UNK_ID]);
    let pieces = tok.pieces_of(text);
    assert_eq!(pieces, ["Z", "means", "run", "do", "Z"]);
    assert_eq!(pieces.len(), ids.len());
    assert_eq!(tok.decode(&ids), "means do");
}

#[test]
fn pieces_of_a_wgsl_tokenizer_are_the_lexer_pieces() {
    let tok = Tokenizer::build(["fn main() {}"], 1);
    assert_eq!(tok.kind_name(), "wgsl");
    assert_eq!(tok.pieces_of("fn main"), tat_core::tokenizer::pieces("fn main"));
}

#[test]
fn save_then_load_keeps_the_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let tok = Tokenizer::build_words(CORPUS, 2);
    tok.save(&path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!((&json["kind"], &json["version"], &json["min_freq"]), (&"words".into(), &1.into(), &2.into()));
    let loaded = Tokenizer::load(&path).unwrap();
    assert_eq!(loaded, tok);
    assert_eq!(loaded.kind_name(), "words");
    assert_eq!(loaded.encode("Y means walk"), tok.encode("Y means walk"));
}

#[test]
fn load_rejects_word_pieces_with_whitespace_naming_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let json = r#"{"kind": "words", "version": 1, "min_freq": 1,
        "pieces": ["<pad>", "<unk>", "<bos>", "<eos>", "JUMP", "jump twice"]}"#;
    std::fs::write(&path, json).unwrap();
    let msg = checkpoint_message(Tokenizer::load(&path));
    let expected = format!(
        "{}: not a tiny-agent-trainer tokenizer (piece 5 \"jump twice\" contains whitespace, which a word \
         piece cannot); re-create the checkpoint by training again",
        path.display()
    );
    assert_eq!(msg, expected);
}

#[test]
fn load_rejects_empty_and_repeated_word_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    let cases = [
        (r#"["<pad>", "<unk>", "<bos>", "<eos>", ""]"#, "(piece 4 is empty)"),
        (r#"["<pad>", "<unk>", "<bos>", "<eos>", "X", "X"]"#, r#"(piece 5 "X" repeats piece 4)"#),
        (r#"["<pad>", "<unk>", "<eos>", "<bos>"]"#, r#"(piece 2 is "<eos>", expected "<bos>")"#),
        (r#"["<pad>", "<unk>", "<bos>", "<eos>", "<pad>"]"#, r#"(piece 4 "<pad>" repeats piece 0)"#),
    ];
    for (pieces, expected) in cases {
        let json = format!(r#"{{"kind": "words", "version": 1, "min_freq": 1, "pieces": {pieces}}}"#);
        std::fs::write(&path, &json).unwrap();
        let msg = checkpoint_message(Tokenizer::load(&path));
        assert!(msg.contains(expected), "{json} gave {msg}");
    }
}
