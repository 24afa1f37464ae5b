//! Turning prompt/code pairs into padded tensor batches.

use tch::{Device, Tensor};

use crate::data::wgsl::Example;
use crate::error::{Result, TatError};
use crate::rng::SplitMix64;
use crate::tokenizer::{Tokenizer, BOS_ID, EOS_ID, PAD_ID};

/// One example as token ids: `src` = prompt + `<eos>`, `tgt` = `<bos>` + code + `<eos>`.
#[derive(Debug, Clone)]
pub struct EncodedPair {
    pub src: Vec<i64>,
    pub tgt: Vec<i64>,
    /// Per `src` token, the index of its piece among the prompt's distinct pieces (see
    /// [`identities`]).
    pub src_identities: Vec<i64>,
}

pub struct Batch {
    pub src: Tensor,
    /// Decoder input: `tgt` without its last token.
    pub tgt_in: Tensor,
    /// Decoder target: `tgt` without `<bos>`.
    pub tgt_out: Tensor,
    /// `[B, Ls]` per source token, its index among its prompt's distinct pieces.
    pub src_identities: Tensor,
    /// Source tokens per example.
    pub src_lengths: Vec<i64>,
    /// Target tokens per example (`<eos>` included, `<bos>` not).
    pub tgt_lengths: Vec<i64>,
    pub examples: usize,
    /// Non-pad target tokens, the loss's denominator.
    pub target_tokens: usize,
}

pub fn encode_prompt(tokenizer: &Tokenizer, prompt: &str) -> Vec<i64> {
    let mut src = tokenizer.encode(prompt);
    src.push(EOS_ID);
    src
}

/// An input to answer: its `src` ids and their identities, with an empty target (`<bos> <eos>`).
pub fn encode_input(tokenizer: &Tokenizer, text: &str) -> EncodedPair {
    let src = encode_prompt(tokenizer, text);
    let src_identities = identities(tokenizer, text, &src);
    EncodedPair { src, tgt: vec![BOS_ID, EOS_ID], src_identities }
}

/// Per token of `encode_prompt(prompt)`, the index of its piece among the prompt's distinct
/// pieces, in order of first appearance: "X means Y do X" gives 0 1 2 3 0 (then `<eos>`). Two
/// unknown words are different pieces though both are `<unk>`. Where a piece took several ids
/// (a spelt-out WGSL piece), identities follow the ids instead.
pub fn identities(tokenizer: &Tokenizer, prompt: &str, src: &[i64]) -> Vec<i64> {
    let pieces = tokenizer.pieces_of(prompt);
    let mut first_seen: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let mut index = |key: String| {
        let next = first_seen.len() as i64;
        *first_seen.entry(key).or_insert(next)
    };
    if pieces.len() + 1 == src.len() {
        let mut out: Vec<i64> = pieces.iter().map(|p| index(format!("p{p}"))).collect();
        out.push(index("<eos>".into()));
        out
    } else {
        src.iter().map(|id| index(format!("i{id}"))).collect()
    }
}

/// Encodes examples; one longer than `max_len` is an error naming it and the fix.
pub fn encode_examples(
    tokenizer: &Tokenizer,
    examples: &[Example],
    max_len: i64,
    dataset: &str,
) -> Result<Vec<EncodedPair>> {
    examples
        .iter()
        .map(|ex| {
            let EncodedPair { src, src_identities, .. } = encode_input(tokenizer, &ex.natural_language);
            let mut tgt = vec![BOS_ID];
            tgt.extend(tokenizer.encode(&ex.wgsl_code));
            tgt.push(EOS_ID);
            let longest = src.len().max(tgt.len());
            if longest as i64 > max_len {
                // The prompt's start names the example; a whole prompt may be megabytes.
                let mut quoted: String = ex.natural_language.chars().take(60).collect();
                if quoted.len() < ex.natural_language.len() {
                    quoted.push_str("...");
                }
                return Err(TatError::Dataset(format!(
                    "{dataset}: the example \"{quoted}\" is {longest} tokens long, more than model.max_seq_len = \
                     {max_len}. Fix: raise model.max_seq_len to at least {longest}, or shorten the example.",
                )));
            }
            Ok(EncodedPair { src, tgt, src_identities })
        })
        .collect()
}

fn pad(rows: &[&[i64]], device: Device) -> Tensor {
    let width = rows.iter().map(|r| r.len()).max().unwrap_or(1);
    let mut flat = Vec::with_capacity(rows.len() * width);
    for row in rows {
        flat.extend_from_slice(row);
        flat.extend(std::iter::repeat_n(PAD_ID, width - row.len()));
    }
    Tensor::from_slice(&flat).view([rows.len() as i64, width as i64]).to_device(device)
}

pub fn collate(pairs: &[&EncodedPair], device: Device) -> Batch {
    let src: Vec<&[i64]> = pairs.iter().map(|p| p.src.as_slice()).collect();
    let tgt_in: Vec<&[i64]> = pairs.iter().map(|p| &p.tgt[..p.tgt.len() - 1]).collect();
    let tgt_out: Vec<&[i64]> = pairs.iter().map(|p| &p.tgt[1..]).collect();
    let identities: Vec<&[i64]> = pairs.iter().map(|p| p.src_identities.as_slice()).collect();
    Batch {
        src: pad(&src, device),
        tgt_in: pad(&tgt_in, device),
        tgt_out: pad(&tgt_out, device),
        src_identities: pad(&identities, device),
        src_lengths: src.iter().map(|s| s.len() as i64).collect(),
        tgt_lengths: tgt_out.iter().map(|t| t.len() as i64).collect(),
        examples: pairs.len(),
        target_tokens: tgt_out.iter().map(|t| t.len()).sum(),
    }
}

/// The epoch's batches as index lists. Examples are shuffled, then sorted by length inside pools of
/// eight batches so that a batch holds similar lengths (less padding, a 2-3x speedup on mixed
/// snippet/shader data), and the batch order is shuffled again.
pub fn epoch_batches(pairs: &[EncodedPair], batch_size: usize, rng: &mut SplitMix64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    rng.shuffle(&mut order);
    let mut batches = Vec::new();
    for pool in order.chunks(batch_size * 8) {
        let mut pool = pool.to_vec();
        pool.sort_by_key(|&i| pairs[i].tgt.len());
        batches.extend(pool.chunks(batch_size).map(|c| c.to_vec()));
    }
    rng.shuffle(&mut batches);
    batches
}

/// Batches in dataset order, for evaluation.
pub fn fixed_batches(count: usize, batch_size: usize) -> Vec<Vec<usize>> {
    (0..count).collect::<Vec<_>>().chunks(batch_size).map(|c| c.to_vec()).collect()
}
