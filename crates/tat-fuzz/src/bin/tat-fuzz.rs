//! The libFuzzer binary over every target in `tat_fuzz::TARGETS`; `TAT_FUZZ_TARGET` names the
//! one this process fuzzes. Run through `make fuzz` (crates/tat-fuzz/fuzz.py).
#![no_main]

libfuzzer_sys::fuzz_target!(init: tat_fuzz::init_from_env(), |data: &[u8]| tat_fuzz::run_selected(data));
