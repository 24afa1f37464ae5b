//! Tokenizers: the lossless WGSL-aware tokenizer shared by prompts and code.
