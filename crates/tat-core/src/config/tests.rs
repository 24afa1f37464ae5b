use super::*;

const SMALL: &str = r#"
[task]
name = "t"

[model]
d_model = 32
nhead = 4

[training]
epochs = 3

[dataset]
path = "data.toml"
"#;

fn transformer(c: &Config) -> &TransformerConfig {
    match &c.model {
        ModelConfig::Transformer(m) => m,
        other => panic!("a transformer section, not {other:?}"),
    }
}

fn err(text: &str) -> String {
    Config::from_toml_str(text, "cfg.toml").unwrap_err().to_string()
}

#[test]
fn minimal_config_takes_defaults() {
    let c = Config::from_toml_str(SMALL, "cfg.toml").unwrap();
    assert_eq!(transformer(&c).d_model, 32);
    assert_eq!(transformer(&c).num_layers, 6);
    assert_eq!(c.training.batch_size, 16);
    assert_eq!(c.output_dir(), PathBuf::from("runs/t"));
}

#[test]
fn unknown_key_names_field_line_and_suggestion() {
    let text = SMALL.replace("epochs = 3", "epochs = 3\nlerning_rate = 0.1");
    let e = err(&text);
    assert!(e.starts_with("cfg.toml:11:"), "{e}");
    assert!(e.contains("training.lerning_rate"), "{e}");
    assert!(e.contains("Did you mean `learning_rate`?"), "{e}");
}

#[test]
fn wrong_type_names_field_and_line() {
    let e = err(&SMALL.replace("nhead = 4", "nhead = \"four\""));
    assert!(e.starts_with("cfg.toml:7:"), "{e}");
    assert!(e.contains("model.nhead"), "{e}");
}

#[test]
fn missing_section_is_named() {
    let e = err("[task]\nname = \"t\"\n");
    assert!(e.contains("missing field `dataset`"), "{e}");
}

#[test]
fn out_of_range_value_names_field_found_and_expected() {
    let e = err(&SMALL.replace("nhead = 4", "nhead = 5"));
    assert!(e.starts_with("cfg.toml:7:1:"), "{e}");
    assert!(e.contains("`model.nhead`: found 5, expected a positive divisor of model.d_model (32)"), "{e}");
}

#[test]
fn bad_toml_syntax_is_located() {
    let e = err("[task]\nname = \"t\n");
    assert!(e.starts_with("cfg.toml:2:"), "{e}");
    assert!(e.contains("not valid TOML"), "{e}");
}

#[test]
fn bad_enum_value_lists_choices() {
    let e = err(&SMALL.replace("epochs = 3", "epochs = 3\ndevice = \"gpu\""));
    assert!(e.contains("training.device"), "{e}");
    assert!(e.contains("auto") && e.contains("cuda"), "{e}");
}

#[test]
fn shipped_configs_load_and_round_trip() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    for name in ["wgsl_generation.toml", "wgsl_small.toml"] {
        let c = Config::from_file(&dir.join(name)).unwrap();
        assert!(c.dataset_path().exists(), "{name}: dataset {:?}", c.dataset_path());
        let again = Config::from_toml_str(&c.to_toml_string(), name).unwrap();
        assert_eq!(again.model, c.model);
        assert_eq!(again.training, c.training);
    }
}

#[test]
fn original_run_values_are_kept() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/wgsl_generation.toml");
    let c = Config::from_file(&path).unwrap();
    let m = transformer(&c);
    assert_eq!((m.d_model, m.nhead, m.num_layers), (512, 8, 6));
    assert_eq!((m.dim_feedforward, m.max_seq_len), (2048, 512));
    assert_eq!(
        (c.training.epochs, c.training.batch_size, c.training.patience, c.training.save_every),
        (100, 16, 15, 10)
    );
    assert_eq!(c.training.learning_rate, 1e-4);
    assert_eq!((c.dataset.train_ratio, c.dataset.val_ratio), (0.8, 0.1));
}

#[test]
fn overrides_set_values_and_are_checked() {
    let c = Config::from_toml_str(SMALL, "cfg.toml").unwrap();
    let sets =
        ["training.learning_rate=3e-4".to_string(), "task.name=renamed".into(), "training.early_stopping=false".into()];
    let o = c.with_overrides(&sets).unwrap();
    assert_eq!(o.training.learning_rate, 3e-4);
    assert_eq!(o.task.name, "renamed");
    assert!(!o.training.early_stopping);
    assert_eq!(o.model, c.model);
    let e = c.with_overrides(&["training.lerning_rate=1".into()]).unwrap_err().to_string();
    assert!(e.contains("training.lerning_rate") && e.contains("Did you mean `learning_rate`?"), "{e}");
    let e = c.with_overrides(&["model.nhead=5".into()]).unwrap_err().to_string();
    assert!(e.contains("model.nhead") && e.contains("found 5"), "{e}");
    let e = c.with_overrides(&["epochs".into()]).unwrap_err().to_string();
    assert!(e.contains("SECTION.KEY=VALUE"), "{e}");
}

const BINDING: &str = r#"
[task]
name = "b"
kind = "binding"

[dataset]
"#;

#[test]
fn generated_task_takes_sizes_not_a_path() {
    let c = Config::from_toml_str(BINDING, "cfg.toml").unwrap();
    assert_eq!((c.task.kind, c.dataset.path.as_deref()), (TaskKind::Binding, None));
    assert_eq!((c.dataset.train_size, c.dataset.eval_size), (20000, 1000));
    assert_eq!(c.model, ModelConfig::Transformer(TransformerConfig::default()));
    assert!(c.task.seeds.is_empty() && c.baseline.is_none());
    let shown = c.to_toml_string();
    assert!(!shown.contains("seeds") && !shown.contains("baseline") && !shown.contains("path"), "{shown}");
    // The path is checked before the sizes.
    let e = err(&BINDING.replace("[dataset]", "[dataset]\npath = \"data.toml\"\ntrain_size = 0"));
    assert!(e.starts_with("cfg.toml:7:1: field `dataset.path`: found \"data.toml\", expected no path"), "{e}");
    let e = err(&BINDING.replace("kind = \"binding\"", "kind = \"wgsl_generation\""));
    assert!(e.starts_with("cfg.toml: field `dataset.path`: found nothing"), "{e}");
}

#[test]
fn flags_parse_config_enum_names_and_list_them_when_wrong() {
    assert_eq!("cuda".parse::<DeviceChoice>().unwrap(), DeviceChoice::Cuda);
    assert_eq!("auto".parse::<Precision>().unwrap(), Precision::Auto);
    let err = "fp16".parse::<Precision>().unwrap_err().to_string();
    assert_eq!(err, "unknown precision `fp16`: expected one of `auto`, `fp32`, `bf16`");
    let err = "gpu".parse::<DeviceChoice>().unwrap_err().to_string();
    assert_eq!(err, "unknown device `gpu`: expected one of `auto`, `cpu`, `cuda`");
}

#[test]
fn each_architecture_takes_only_its_own_keys() {
    let binder = SMALL.replace("d_model = 32", "architecture = \"binder\"\nd_model = 32\nwindow = 3");
    let c = Config::from_toml_str(&binder, "cfg.toml").unwrap();
    let ModelConfig::Binder(m) = &c.model else { panic!("{:?}", c.model) };
    assert_eq!((m.d_model, m.nhead, m.window, m.slots), (32, 4, 3, 8));
    // A key of another architecture is located and named, with the architecture it belongs to.
    let e = err(&SMALL.replace("nhead = 4", "nhead = 4\nwindow = 3"));
    assert!(e.starts_with("cfg.toml:8:1: unknown field `model.window`"), "{e}");
    assert!(e.contains("`window` is a key of architecture = \"binder\""), "{e}");
    assert!(e.contains("this section's architecture is \"transformer\""), "{e}");
    let e = err(&binder.replace("window = 3", "tie_embeddings = false"));
    assert!(e.contains("`model.tie_embeddings`") && e.contains("architecture = \"transformer\""), "{e}");
    // Errors inside a tagged section keep their field path and line.
    let e = err(&binder.replace("window = 3", "window = \"wide\""));
    assert!(e.starts_with("cfg.toml:8:10: field `model.window`: invalid type: string"), "{e}");
    let e = err(&SMALL.replace("nhead = 4", "nhaed = 4"));
    assert!(e.starts_with("cfg.toml:7:1: unknown field `model.nhaed`") && e.contains("Did you mean `nhead`?"), "{e}");
    let e = err(&SMALL.replace("d_model = 32", "architecture = \"transfomer\"\nd_model = 32"));
    assert!(e.starts_with("cfg.toml:6:16: field `model.architecture`: unknown variant `transfomer`"), "{e}");
    assert!(e.contains("`transformer`, `binder`, `bionet`, `diffusion_lm`"), "{e}");
    // The shown config lists only the architecture's keys.
    let shown = c.to_toml_string();
    assert!(
        shown.contains("window = 3") && !shown.contains("tie_embeddings") && !shown.contains("\nlayers ="),
        "{shown}"
    );
}

#[test]
fn an_override_of_the_architecture_starts_its_section_afresh() {
    let c = Config::from_toml_str(SMALL, "cfg.toml").unwrap();
    let sets = ["model.window=2".to_string(), "model.architecture=\"binder\"".into()];
    let o = c.with_overrides(&sets).unwrap();
    assert_eq!(o.model, ModelConfig::Binder(BinderConfig { window: 2, ..BinderConfig::default() }));
}

#[test]
fn a_checkpoint_config_written_before_tagged_sections_loads_as_trained() {
    // Before sections were tagged, `show` wrote every architecture's keys into [model].
    let old = SMALL.replace("nhead = 4", "nhead = 4\nwindow = 4\nslots = 8\nword_dropout = 0.5");
    assert!(Config::from_toml_str(&old, "old.toml").is_err());
    let c = Config::from_toml_str(&drop_foreign_model_keys(&old), "old.toml").unwrap();
    assert_eq!(c, Config::from_toml_str(SMALL, "old.toml").unwrap());
    assert!(matches!(drop_foreign_model_keys(SMALL), std::borrow::Cow::Borrowed(_)));
}

#[test]
fn colour_balance_reads_a_table_of_frameworks_or_one_number_for_every_framework() {
    let with = |balance: &str| {
        let text = format!("{SMALL}\n[frameworks]\nweights = {{ control = 1 }}\ncolour_balance = {balance}\n");
        Config::from_toml_str(&text, "cfg.toml").map(|c| c.frameworks.expect("a [frameworks] table").colour_balance)
    };
    let named = with("{ imagine_without_gold = 1, control = 0.5 }").unwrap();
    assert_eq!(named, [("control".to_string(), 0.5), ("imagine_without_gold".to_string(), 1.0)].into());
    // A number, as runs written before the table carry it, stands for every framework.
    assert_eq!(with("1").unwrap(), [(EVERY_FRAMEWORK.to_string(), 1.0)].into());
    assert_eq!(with("0.0").unwrap(), [(EVERY_FRAMEWORK.to_string(), 0.0)].into());
    let wrong = with("{ imagine_without_gold = 1.5 }").unwrap_err().to_string();
    assert!(wrong.contains("frameworks.colour_balance.imagine_without_gold") && wrong.contains("from 0"), "{wrong}");
    let wrong = with("\"all\"").unwrap_err().to_string();
    assert!(wrong.contains("frameworks.colour_balance") && wrong.contains("a table of framework names"), "{wrong}");
}
