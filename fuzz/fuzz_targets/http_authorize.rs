#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| idp_fuzz::http_authorize(data));
