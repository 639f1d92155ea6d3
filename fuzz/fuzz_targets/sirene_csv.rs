#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idp_fuzz::sirene_csv(data));
