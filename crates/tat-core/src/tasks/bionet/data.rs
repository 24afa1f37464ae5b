//! A bionet's examples: ±1 (or [0, 1]) input rows and class ids, from seeded prototypes or from
//! MNIST-format IDX files.

use std::io::Read;
use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::config::{Config, DataSource, LabelEncoding};
use crate::error::{Result, TatError};
use crate::rng::SplitMix64;
use crate::tasks::{ArraySplits, NamedArrays};

/// The most bytes an IDX file may hold, unpacked (MNIST's training images are 47 MB).
const MAX_IDX_BYTES: u64 = 4 << 30;

/// Inputs `[N, D]` (f32) and class ids `[N]` (i64), on the CPU.
pub struct Examples {
    pub x: Tensor,
    pub labels: Tensor,
}

impl Examples {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn select(&self, index: &[i64]) -> Self {
        let index = Tensor::from_slice(index);
        Self { x: self.x.index_select(0, &index), labels: self.labels.index_select(0, &index) }
    }
}

/// The train, validation and test splits.
pub struct Splits {
    pub train: Examples,
    pub val: Examples,
    pub test: Examples,
}

impl Splits {
    pub fn get(&self, name: &str) -> Option<&Examples> {
        match name {
            "train" => Some(&self.train),
            "val" => Some(&self.val),
            "test" => Some(&self.test),
            _ => None,
        }
    }
}

/// The splits a config names. The same config gives the same splits at training and at evaluation.
pub fn load(config: &Config) -> Result<Splits> {
    let seed = config.training.seed;
    match config.dataset.source.unwrap_or(DataSource::Prototypes) {
        DataSource::Prototypes => Ok(prototypes(config, seed)),
        DataSource::Idx => idx_splits(config, seed),
        DataSource::Python => Err(TatError::Usage(format!(
            "task {:?}: dataset.source = \"python\", so its data comes from a Python program. Fix: train it with \
             `tat.train(config, data=...)`, and score it with `Classifier.predict` on your own arrays.",
            config.task.name
        ))),
        DataSource::Gsm8k | DataSource::Wikitext | DataSource::WgslCorpus => {
            unreachable!("a bionet's dataset.source is checked")
        }
    }
}

/// The splits from arrays a program handed over: `train` (unless `with_train` is false: a
/// stream brings it each epoch), `val` and optionally `test`, each with `x` `[N, width]` and
/// `labels` `[N]` in `0..classes`.
pub fn from_arrays(arrays: &ArraySplits, width: i64, classes: i64, with_train: bool) -> Result<Splits> {
    let allowed: &[&str] = if with_train { &["train", "val", "test"] } else { &["val", "test"] };
    if let Some(unknown) = arrays.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(TatError::Usage(format!(
            "data has a split named {unknown:?}. Fix: pass {}.",
            allowed.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        )));
    }
    let get = |name: &str, required: bool| -> Result<Examples> {
        match arrays.get(name) {
            Some(a) => split_from_arrays(a, &format!("data[{name:?}]"), width, classes),
            None if required => Err(TatError::Usage(format!(
                "data has no {name:?} split. Fix: pass data[{name:?}] = {{\"x\": float32 [N, {width}], \"labels\": int64 [N]}}."
            ))),
            None => Ok(Examples {
                x: Tensor::zeros([0, width], (Kind::Float, tch::Device::Cpu)),
                labels: Tensor::zeros([0], (Kind::Int64, tch::Device::Cpu)),
            }),
        }
    };
    let train = if with_train { get("train", true)? } else { get("train", false)? };
    Ok(Splits { train, val: get("val", true)?, test: get("test", false)? })
}

/// One split from its named arrays (`what` names it in errors).
pub fn split_from_arrays(arrays: &NamedArrays, what: &str, width: i64, classes: i64) -> Result<Examples> {
    let fix = format!("Fix: pass {{\"x\": float32 [N, {width}], \"labels\": int64 [N] in 0..{classes}}}.");
    let (Some(x), Some(labels)) = (arrays.get("x"), arrays.get("labels")) else {
        let names: Vec<&String> = arrays.keys().collect();
        return Err(TatError::Usage(format!("{what} has the arrays {names:?}, not `x` and `labels`. {fix}")));
    };
    if let Some(extra) = arrays.keys().find(|k| *k != "x" && *k != "labels") {
        return Err(TatError::Usage(format!("{what} has an array `{extra}` the bionet task does not use. {fix}")));
    }
    if x.dim() != 2 || x.size()[1] != width {
        return Err(TatError::Usage(format!("{what}: `x` has shape {:?}, expected [N, {width}]. {fix}", x.size())));
    }
    if labels.dim() != 1 || labels.size()[0] != x.size()[0] {
        return Err(TatError::Usage(format!(
            "{what}: `labels` has shape {:?}, expected [{}] (one per row of `x`). {fix}",
            labels.size(),
            x.size()[0]
        )));
    }
    if x.size()[0] == 0 {
        return Err(TatError::Usage(format!("{what} is empty: `x` has no rows. {fix}")));
    }
    if labels.is_floating_point() {
        return Err(TatError::Usage(format!(
            "{what}: `labels` is an array of floats ({:?}), where classes are whole numbers: int64. {fix}",
            labels.kind()
        )));
    }
    if labels.numel() > 0 {
        let (low, high) = (labels.min().int64_value(&[]), labels.max().int64_value(&[]));
        if low < 0 || high >= classes {
            return Err(TatError::Usage(format!(
                "{what}: `labels` holds {} outside 0..{classes}. {fix}",
                if low < 0 { low } else { high }
            )));
        }
    }
    if x.numel() > 0 && x.isfinite().all().int64_value(&[]) == 0 {
        return Err(TatError::Usage(format!("{what}: `x` holds a NaN or an infinity. {fix}")));
    }
    Ok(Examples { x: x.to_kind(Kind::Float), labels: labels.to_kind(Kind::Int64) })
}

/// Noisy copies of `classes` random ±1 prototypes (darnax tutorial 06): the training set holds
/// `train_size` examples, class c in a block of `train_size / classes + 1` (the last class gets
/// what is left), each bit flipped with probability `noise`; validation and test hold
/// `eval_size` fresh noisy copies each, classes in turn.
fn prototypes(config: &Config, seed: u64) -> Splits {
    let d = &config.dataset;
    let (classes, dim, noise) = (d.classes.unwrap_or(10), d.dim.unwrap_or(100), d.noise.unwrap_or(0.3));
    let mut rng = SplitMix64::derived(seed, 0xDA7A);
    let protos: Vec<f32> = (0..classes * dim).map(|_| if rng.next_u64() & 1 == 1 { 1.0 } else { -1.0 }).collect();
    let make = |labels: Vec<i64>, rng: &mut SplitMix64| {
        let mut x = Vec::with_capacity(labels.len() * dim);
        for &c in &labels {
            for &bit in &protos[c as usize * dim..(c as usize + 1) * dim] {
                x.push(if rng.next_f64() < noise { -bit } else { bit });
            }
        }
        let mut order: Vec<i64> = (0..labels.len() as i64).collect();
        rng.shuffle(&mut order);
        let examples = Examples {
            x: Tensor::from_slice(&x).view([labels.len() as i64, dim as i64]),
            labels: Tensor::from_slice(&labels),
        };
        examples.select(&order)
    };
    let block = d.train_size / classes + 1;
    let train_labels: Vec<i64> = (0..d.train_size).map(|i| (i / block) as i64).collect();
    let eval_labels: Vec<i64> = (0..d.eval_size).map(|i| (i % classes) as i64).collect();
    let train = make(train_labels, &mut rng);
    let val = make(eval_labels.clone(), &mut rng);
    let test = make(eval_labels, &mut rng);
    Splits { train, val, test }
}

/// MNIST-format files in `dataset.path`: the training images drawn per class (or `train_size`
/// in all), up to `eval_size` of the rest as validation, the test file as test; inputs
/// projected to `projection` dimensions and signed (0 maps to -1), or pixels in [0, 1].
fn idx_splits(config: &Config, seed: u64) -> Result<Splits> {
    let dir = config.dataset_path();
    let (train_x, train_y) = (read_idx(&dir, "train-images-idx3-ubyte")?, read_idx(&dir, "train-labels-idx1-ubyte")?);
    let (test_x, test_y) = (read_idx(&dir, "t10k-images-idx3-ubyte")?, read_idx(&dir, "t10k-labels-idx1-ubyte")?);
    let train_all = examples_from(&train_x, &train_y)?;
    let test = examples_from(&test_x, &test_y)?;
    let d = &config.dataset;
    let mut rng = SplitMix64::derived(seed, 0x1D0);
    let labels: Vec<i64> = Vec::<i64>::try_from(&train_all.labels).expect("labels are i64");
    let mut order: Vec<i64> = (0..labels.len() as i64).collect();
    rng.shuffle(&mut order);
    let (mut chosen, mut rest) = (Vec::new(), Vec::new());
    match d.per_class {
        Some(per_class) => {
            let mut taken = [0usize; 256];
            for &i in &order {
                let c = labels[i as usize] as usize;
                if taken[c] < per_class {
                    taken[c] += 1;
                    chosen.push(i);
                } else {
                    rest.push(i);
                }
            }
        }
        None => {
            let n = d.train_size.min(order.len());
            chosen.extend_from_slice(&order[..n]);
            rest.extend_from_slice(&order[n..]);
        }
    }
    rest.truncate(d.eval_size);
    let (train, val) = (train_all.select(&chosen), train_all.select(&rest));
    let features = |e: Examples, w: &Option<Tensor>| match w {
        Some(w) => {
            let p = e.x.matmul(&w.tr());
            Examples { x: p.gt(0.0).to_kind(Kind::Float) * 2.0 - 1.0, labels: e.labels }
        }
        None => e,
    };
    let projection = match d.projection.unwrap_or(0) {
        0 => None,
        k => {
            let pixels = train.x.size()[1];
            let normals = seeded_normals(SplitMix64::derived(seed, 0x9407), k * pixels as usize);
            Some(Tensor::from_slice(&normals).view([k as i64, pixels]) / (pixels as f64).sqrt())
        }
    };
    Ok(Splits {
        train: features(train, &projection),
        val: features(val, &projection),
        test: features(test, &projection),
    })
}

/// Standard normal samples (Box-Muller) from a seeded stream: the same on every machine.
pub fn seeded_normals(mut rng: SplitMix64, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let (u1, u2) = (1.0 - rng.next_f64(), rng.next_f64());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        out.push((r * t.cos()) as f32);
        out.push((r * t.sin()) as f32);
    }
    out.truncate(n);
    out
}

/// The label rows clamped into the output layer: `[N, C]`.
pub fn encode_labels(labels: &Tensor, classes: i64, encoding: LabelEncoding) -> Tensor {
    let one_hot = labels.one_hot(classes).to_kind(Kind::Float);
    match encoding {
        LabelEncoding::Pm1 => one_hot * 2.0 - 1.0,
        LabelEncoding::CRescale => one_hot * ((classes as f64).sqrt() / 2.0) - 0.5,
    }
}

/// An IDX file's bytes after its header, with its dimensions: `name` or `name.gz` in `dir`.
struct Idx {
    path: PathBuf,
    dims: Vec<usize>,
    data: Vec<u8>,
}

fn read_idx(dir: &Path, name: &str) -> Result<Idx> {
    let plain = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    let too_large = |path: &Path| {
        bad(path, &format!("more than {} GiB of data, more than any IDX data set here holds", MAX_IDX_BYTES >> 30))
    };
    let (path, bytes) = if plain.is_file() {
        if std::fs::metadata(&plain).is_ok_and(|m| m.len() > MAX_IDX_BYTES) {
            return Err(too_large(&plain));
        }
        (plain.clone(), std::fs::read(&plain).map_err(|e| TatError::io(&plain, e))?)
    } else if gz.is_file() {
        let raw = std::fs::read(&gz).map_err(|e| TatError::io(&gz, e))?;
        let mut out = Vec::new();
        // At most one byte past the limit is unpacked: a small file that unpacks to gigabytes is
        // refused without them.
        flate2::read::GzDecoder::new(raw.as_slice())
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| bad(&gz, &format!("not a gzip file ({e})")))?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(too_large(&gz));
        }
        (gz, out)
    } else {
        return Err(TatError::Dataset(format!(
            "{}: neither {name} nor {name}.gz is there. Fix: point dataset.path at a folder with the four \
             MNIST-format IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, \
             t10k-labels-idx1-ubyte, gzipped or not), e.g. ../shared/data/fashion-mnist.",
            dir.display()
        )));
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0x08 {
        return Err(bad(&path, "the header is not an IDX header of unsigned bytes (magic 0x0000_08xx)"));
    }
    let ndim = bytes[3] as usize;
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(bad(&path, "the file ends inside its header"));
    }
    let dims: Vec<usize> =
        (0..ndim).map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize).collect();
    let Some(expected) = dims.iter().try_fold(1usize, |product, &d| product.checked_mul(d)) else {
        return Err(bad(&path, &format!("the header promises {dims:?} bytes of data, more than any file holds")));
    };
    if bytes.len() - header != expected {
        return Err(bad(
            &path,
            &format!(
                "the header promises {dims:?} = {expected} bytes of data, the file holds {}",
                bytes.len() - header
            ),
        ));
    }
    Ok(Idx { path, dims, data: bytes[header..].to_vec() })
}

fn examples_from(images: &Idx, labels: &Idx) -> Result<Examples> {
    if images.dims.len() < 2 {
        return Err(bad(
            &images.path,
            &format!("images of dimensions {:?}; an image file holds [count, rows, columns]", images.dims),
        ));
    }
    if labels.dims.len() != 1 {
        return Err(bad(&labels.path, &format!("labels of dimensions {:?}; a label file holds [count]", labels.dims)));
    }
    if images.dims[0] == 0 {
        return Err(bad(&images.path, "no images (its dimensions are [0, ...])"));
    }
    if images.dims[1..].contains(&0) {
        return Err(bad(&images.path, &format!("images of dimensions {:?} have no pixels", images.dims)));
    }
    if images.dims[0] != labels.dims[0] {
        return Err(bad(
            &labels.path,
            &format!("{:?} labels do not match {:?} images in {}", labels.dims, images.dims, images.path.display()),
        ));
    }
    if let Some(c) = labels.data.iter().find(|&&c| c > 9) {
        return Err(bad(&labels.path, &format!("label {c} is not a digit class 0-9")));
    }
    let n = images.dims[0] as i64;
    let pixels: i64 = images.dims[1..].iter().product::<usize>() as i64;
    let x = Tensor::from_slice(&images.data).view([n, pixels]).to_kind(Kind::Float) / 255.0;
    let labels = Tensor::from_slice(&labels.data).to_kind(Kind::Int64);
    Ok(Examples { x, labels })
}

fn bad(path: &Path, what: &str) -> TatError {
    TatError::Dataset(format!(
        "{}: {what}. Fix: use the original MNIST-format IDX files (as downloaded, gzipped or not).",
        path.display()
    ))
}
