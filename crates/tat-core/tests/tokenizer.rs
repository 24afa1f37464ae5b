//! The tokenizer is lossless: for any text, the pieces concatenate to it and decoding its ids
//! gives it back byte for byte, whatever the vocab learned.

use std::sync::OnceLock;

use proptest::prelude::*;
use tat_core::tokenizer::{pieces, Tokenizer, BOS_ID, EOS_ID, PAD_ID, UNK_ID};

const CORPUS: [&str; 3] = [
    "@group(0) @binding(0) var<storage, read_write> data: array<vec4<f32>>;\n\n\
     @compute @workgroup_size(64)\n\
     fn main(@builtin(global_invocation_id) id: vec3<u32>) {\n\
     \x20   let i = id.x;\n\
     \x20   if (i >= arrayLength(&data)) {\n\
     \x20       return;\n\
     \x20   }\n\
     \x20   data[i] = data[i] * 0.5f + vec4<f32>(1.0, 0x1p4f, .5, 1e-3);\n\
     }\n",
    "// Fragment shader: solid red.\r\n\
     @fragment\r\n\
     fn main() -> @location(0) vec4<f32> {\r\n\
     \treturn vec4<f32>(1.0, 0.0, 0.0, 1.0); /* opaque */\r\n\
     }\r\n",
    "Write a compute shader that halves every element of a storage buffer.",
];

/// WGSL's characters, so generated strings hit numbers, operators, indentation and comments.
const WGSL_CHARS: &str = "[a-z0-9_<>(){};:.,=+*/@&|!%^~\\[\\] \n\t\r-]{0,200}";

fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| Tokenizer::build(CORPUS, 1))
}

fn assert_lossless(text: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(pieces(text).concat(), text);
    let ids = tokenizer().encode(text);
    let specials = [PAD_ID, UNK_ID, BOS_ID, EOS_ID];
    let vocab_size = tokenizer().vocab_size() as i64;
    prop_assert!(ids.iter().all(|id| !specials.contains(id) && (0..vocab_size).contains(id)));
    prop_assert_eq!(tokenizer().decode(&ids), text);
    Ok(())
}

proptest! {
    #[test]
    fn any_string_round_trips(text in any::<String>()) {
        assert_lossless(&text)?;
    }

    #[test]
    fn wgsl_like_strings_round_trip(text in WGSL_CHARS) {
        assert_lossless(&text)?;
    }

    #[test]
    fn wgsl_like_strings_never_give_empty_or_right_shift_pieces(text in WGSL_CHARS) {
        for piece in pieces(&text) {
            prop_assert!(!piece.is_empty() && !piece.starts_with(">>"), "piece {:?}", piece);
        }
    }
}

#[test]
fn corpus_round_trips_after_save_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer().save(&path).unwrap();
    let loaded = Tokenizer::load(&path).unwrap();
    for text in CORPUS {
        let ids = loaded.encode(text);
        assert_eq!(ids, tokenizer().encode(text));
        assert_eq!(loaded.decode(&ids), text);
    }
}

#[test]
fn corpus_pieces_are_single_tokens() {
    for text in CORPUS {
        assert_eq!(tokenizer().encode(text).len(), pieces(text).len(), "{text}");
    }
}
