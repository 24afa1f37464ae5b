//! The transformer's inference paths agree with its training path.

use tat_core::config::TransformerConfig;
use tat_core::model::layers::dropout;
use tat_core::model::Seq2SeqTransformer;
use tat_core::precision::Compute;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[test]
fn freezing_bf16_weights_for_inference_changes_no_logit() {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let config =
        TransformerConfig { d_model: 32, nhead: 4, num_layers: 2, dim_feedforward: 64, ..TransformerConfig::default() };
    let mut model = Seq2SeqTransformer::new(&vs.root(), &config, 50, Compute::Bf16);
    let src = Tensor::from_slice(&[5i64, 6, 7, 3, 9, 10, 3, 0]).view([2, 4]);
    let tgt = Tensor::from_slice(&[2i64, 11, 12, 2, 13, 0]).view([2, 3]);
    let _guard = tch::no_grad_guard();
    let before = model.forward(&src, &tgt, false);
    model.freeze();
    let after = model.forward(&src, &tgt, false);
    assert_eq!(before.kind(), Kind::Float);
    assert!(before.equal(&after), "max diff {}", (before - after).abs().max().double_value(&[]));
}

#[test]
fn dropout_drops_at_its_rate_scales_the_rest_and_passes_gradients_through_its_mask() {
    tch::manual_seed(11);
    let x = Tensor::ones([300, 1000], (Kind::Float, Device::Cpu)).set_requires_grad(true);
    for p in [0.1, 0.5] {
        let y = dropout(&x, p, true);
        let dropped = y.eq(0.0).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
        assert!((dropped - p).abs() < 0.005, "p {p}: dropped {dropped}");
        let kept = y.masked_select(&y.ne(0.0));
        assert!(kept.eq(1.0 / (1.0 - p)).all().int64_value(&[]) == 1, "p {p}: kept values are not 1/(1-p)");
        let grad = Tensor::run_backward(&[y.sum(Kind::Float)], &[&x], false, false).remove(0);
        assert!(grad.equal(&y.detach()), "p {p}: the gradient is not the mask times 1/(1-p)");
    }
    // Different draws give different masks; evaluation and p = 0 leave the input alone.
    assert!(!dropout(&x, 0.5, true).equal(&dropout(&x, 0.5, true)));
    assert!(dropout(&x, 0.5, false).equal(&x) && dropout(&x, 0.0, true).equal(&x));
}

#[test]
fn target_noise_swaps_its_share_of_decoder_inputs_for_plain_pieces_and_only_in_training() {
    tch::manual_seed(5);
    let vs = VarStore::new(Device::Cpu);
    let base = TransformerConfig {
        d_model: 32,
        nhead: 4,
        num_layers: 1,
        dim_feedforward: 64,
        dropout: 0.0,
        ..TransformerConfig::default()
    };
    let vocab = 60;
    let noisy = Seq2SeqTransformer::new(
        &vs.root(),
        &TransformerConfig { target_noise: 0.2, ..base.clone() },
        vocab,
        Compute::Fp32,
    );
    // 400 rows: <bos>, 30 tokens, then 9 pads.
    let row: Vec<i64> =
        std::iter::once(2).chain((0..30).map(|i| 4 + i % 50)).chain(std::iter::repeat_n(0, 9)).collect();
    let tgt = Tensor::from_slice(&row).view([1, 40]).repeat([400, 1]);
    let out = noisy.with_target_noise(&tgt);
    assert!(out.narrow(1, 0, 1).eq(2).all().int64_value(&[]) == 1, "<bos> was swapped");
    assert!(out.narrow(1, 31, 9).eq(0).all().int64_value(&[]) == 1, "padding was swapped");
    let body = out.narrow(1, 1, 30);
    assert!(body.ge(4).logical_and(&body.lt(vocab)).all().int64_value(&[]) == 1, "a special or out-of-range piece");
    let swapped = body.ne_tensor(&tgt.narrow(1, 1, 30)).to_kind(Kind::Double).mean(Kind::Double).double_value(&[]);
    // A swap may draw the same piece again (1 in 56), so the share changed is a little under 0.2.
    assert!((swapped - 0.2 * 55.0 / 56.0).abs() < 0.01, "changed share {swapped}");

    // Training with noise sees other inputs; evaluation never does; 0 leaves training alone.
    let src = Tensor::from_slice(&[5i64, 6, 7, 3]).view([1, 4]).repeat([8, 1]);
    let tgt = tgt.narrow(0, 0, 8);
    let _guard = tch::no_grad_guard();
    let mut vs_plain = VarStore::new(Device::Cpu);
    let plain = Seq2SeqTransformer::new(&vs_plain.root(), &base, vocab, Compute::Fp32);
    vs_plain.copy(&vs).unwrap();
    assert!(noisy.forward(&src, &tgt, false).equal(&plain.forward(&src, &tgt, false)));
    assert!(plain.forward(&src, &tgt, true).equal(&plain.forward(&src, &tgt, false)));
    assert!(!noisy.forward(&src, &tgt, true).equal(&plain.forward(&src, &tgt, true)));
}
