//! The transformer's inference paths agree with its training path.

use tat_core::config::{ModelConfig, Precision};
use tat_core::model::Seq2SeqTransformer;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

#[test]
fn freezing_bf16_weights_for_inference_changes_no_logit() {
    tch::manual_seed(3);
    let vs = VarStore::new(Device::Cpu);
    let config = ModelConfig { d_model: 32, nhead: 4, num_layers: 2, dim_feedforward: 64, ..ModelConfig::default() };
    let mut model = Seq2SeqTransformer::new(&vs.root(), &config, 50, Precision::Bf16);
    let src = Tensor::from_slice(&[5i64, 6, 7, 3, 9, 10, 3, 0]).view([2, 4]);
    let tgt = Tensor::from_slice(&[2i64, 11, 12, 2, 13, 0]).view([2, 3]);
    let _guard = tch::no_grad_guard();
    let before = model.forward(&src, &tgt, false);
    model.freeze();
    let after = model.forward(&src, &tgt, false);
    assert_eq!(before.kind(), Kind::Float);
    assert!(before.equal(&after), "max diff {}", (before - after).abs().max().double_value(&[]));
}
