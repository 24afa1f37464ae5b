//! Real WGSL to pretrain on: the `.wgsl` files under a folder (`../shared/data/wgsl-corpus`),
//! split by file, and cut into continuation pairs (a stretch of a shader, then the lines after
//! it) that the text-pair model trains on like prompt/code pairs.
//!
//! A file's split is a function of its path inside the folder, not of a seed or of the other
//! files, so the held-out shaders stay held out in every run and when files are added.

use std::path::{Path, PathBuf};

use super::wgsl::{Example, Split, Splits};
use crate::error::{read_text, Result, TatError};
use crate::tokenizer::Tokenizer;

/// The category the corpus pairs carry.
pub const CATEGORY: &str = "corpus";

/// One shader: its path inside the corpus folder and its code without comments.
#[derive(Debug, Clone, PartialEq)]
pub struct Shader {
    pub path: String,
    pub code: String,
}

/// The corpus's shaders by split.
pub type Corpus = Splits<Shader>;

/// Every `.wgsl` file under `dir` (in path order), split by [`split_of`] with the ratios.
pub fn load(dir: &Path, train_ratio: f64, val_ratio: f64) -> Result<Corpus> {
    if !dir.is_dir() {
        let what = if dir.exists() { "a file, not a folder" } else { "which does not exist" };
        return Err(TatError::Dataset(format!(
            "dataset.path = {} names {what}. Fix: point dataset.path at a folder of .wgsl files \
             (such as ../shared/data/wgsl-corpus; relative paths resolve against the config file's folder).",
            dir.display()
        )));
    }
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(TatError::Dataset(format!(
            "{}: no .wgsl file in this folder or below. Fix: point dataset.path at the folder that holds the shaders.",
            dir.display()
        )));
    }
    let mut corpus = Corpus::default();
    for file in files {
        let relative = file.strip_prefix(dir).unwrap_or(&file).to_string_lossy().replace('\\', "/");
        let code = tidy(&read_text(&file, TatError::Dataset)?);
        if code.is_empty() {
            continue;
        }
        let shader = Shader { path: relative, code };
        match split_of(&shader.path, train_ratio, val_ratio) {
            Split::Train => corpus.train.push(shader),
            Split::Val => corpus.val.push(shader),
            Split::Test => corpus.test.push(shader),
        }
    }
    Ok(corpus)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        TatError::Dataset(format!("{}: cannot list this folder: {e}. Fix: make it readable.", dir.display()))
    })?;
    for entry in entries {
        let path = entry.map_err(|e| TatError::Dataset(format!("{}: {e}", dir.display())))?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            out.push(path);
        }
    }
    Ok(())
}

/// The split of the file at `path` (inside the corpus folder): a hash of the path placed on
/// [0, 1), train below `train_ratio`, validation below `train_ratio + val_ratio`, else test.
pub fn split_of(path: &str, train_ratio: f64, val_ratio: f64) -> Split {
    // FNV-1a, then a SplitMix64 finaliser so that similar paths spread over [0, 1).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in path.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let at = (crate::rng::SplitMix64::new(hash).next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    if at < train_ratio {
        Split::Train
    } else if at < train_ratio + val_ratio {
        Split::Val
    } else {
        Split::Test
    }
}

/// The code as it is trained on: comments removed, `\r\n` as `\n`, trailing spaces cut, runs of
/// blank lines as one, and no blank lines at either end.
pub fn tidy(code: &str) -> String {
    let bare = crate::wgsl::without_comments(&code.replace("\r\n", "\n"));
    let mut out = String::with_capacity(bare.len());
    let mut blank_before = true;
    for line in bare.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            if !blank_before {
                out.push('\n');
            }
            blank_before = true;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        blank_before = false;
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// Continuation pairs of every shader: at a line that starts a window (the first line of the
/// file, then one about every `side / 4` tokens), the input is as many whole lines before it as
/// fit in `side` tokens (nothing at the top of a file, so the model also learns how shaders
/// begin) and the output as many whole lines from it as fit in `side` tokens. A single line longer
/// than `side` tokens starts no window and ends the output before it.
pub fn continuation_pairs(shaders: &[Shader], split: Split, tokenizer: &Tokenizer, side: usize) -> Vec<Example> {
    let stride = (side / 4).max(1);
    let mut out = Vec::new();
    for shader in shaders {
        let lines: Vec<&str> = shader.code.split_inclusive('\n').collect();
        let tokens: Vec<usize> = lines.iter().map(|l| tokenizer.encode(l).len()).collect();
        let mut since_last = usize::MAX;
        for start in 0..lines.len() {
            let due = since_last >= stride;
            since_last = since_last.saturating_add(tokens[start]);
            if !due || tokens[start] > side || lines[start].trim().is_empty() {
                continue;
            }
            since_last = tokens[start];
            let (mut end, mut used) = (start, 0);
            while end < lines.len() && used + tokens[end] <= side {
                used += tokens[end];
                end += 1;
            }
            let (mut begin, mut used) = (start, 0);
            while begin > 0 && used + tokens[begin - 1] <= side {
                used += tokens[begin - 1];
                begin -= 1;
            }
            out.push(Example {
                natural_language: lines[begin..start].concat(),
                wgsl_code: lines[start..end].concat(),
                category: CATEGORY.into(),
                split: Some(split),
            });
        }
    }
    out
}

/// The continuation pairs of every split.
pub fn pairs(corpus: &Corpus, tokenizer: &Tokenizer, side: usize) -> Splits {
    let of = |split| continuation_pairs(corpus.get(split), split, tokenizer, side);
    Splits { train: of(Split::Train), val: of(Split::Val), test: of(Split::Test) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_drops_comments_and_blank_runs_and_keeps_lines() {
        let code = "// header\r\n\r\n\r\nfn f() -> f32 { /* a\nb */ return 1.0; }  \n\n\n// end\n";
        assert_eq!(tidy(code), "fn f() -> f32 {\n    return 1.0; }\n");
        assert_eq!(tidy("// only a comment\n"), "");
    }

    #[test]
    fn splits_follow_the_path_and_the_ratios() {
        let paths: Vec<String> = (0..2000).map(|i| format!("dir/shader_{i}.wgsl")).collect();
        let count = |split| paths.iter().filter(|p| split_of(p, 0.8, 0.1) == split).count();
        let (train, val, test) = (count(Split::Train), count(Split::Val), count(Split::Test));
        assert_eq!(train + val + test, 2000);
        assert!((1500..1700).contains(&train), "{train} of 2000 in train at ratio 0.8");
        assert!((140..260).contains(&val) && (140..260).contains(&test), "val {val}, test {test}");
        assert_eq!(split_of("a/b.wgsl", 0.8, 0.1), split_of("a/b.wgsl", 0.8, 0.1));
        assert_eq!(split_of("a/b.wgsl", 1.0, 0.0), Split::Train);
    }

    #[test]
    fn pairs_continue_their_input_and_fit_the_side() {
        let code: String = (0..60).map(|i| format!("const c{i}: f32 = {i}.0;\n")).collect();
        let shader = Shader { path: "x.wgsl".into(), code: code.clone() };
        let tokenizer = Tokenizer::build([code.as_str()], 1);
        let side = 40;
        let pairs = continuation_pairs(std::slice::from_ref(&shader), Split::Train, &tokenizer, side);
        assert!(pairs.len() > 10, "{} windows", pairs.len());
        assert_eq!(pairs[0].natural_language, "", "the first window starts the file");
        for pair in &pairs {
            assert!(tokenizer.encode(&pair.natural_language).len() <= side);
            assert!(tokenizer.encode(&pair.wgsl_code).len() <= side);
            assert!(!pair.wgsl_code.is_empty());
            let joined = format!("{}{}", pair.natural_language, pair.wgsl_code);
            assert!(code.contains(&joined), "a window is a stretch of the shader: {joined:?}");
        }
        // A line too long for a side starts no window, and no output runs over it.
        let long = format!("const a = 1;\nconst b = {};\nconst c = 2;\n", "1 + ".repeat(50) + "1");
        let shader = Shader { path: "y.wgsl".into(), code: long.clone() };
        let tokenizer = Tokenizer::build([long.as_str()], 1);
        let pairs = continuation_pairs(&[shader], Split::Val, &tokenizer, side);
        assert!(pairs.iter().all(|p| !p.wgsl_code.contains("1 + 1") && !p.natural_language.contains("1 + 1")));
        assert!(pairs.iter().all(|p| p.split == Some(Split::Val)));
    }
}
