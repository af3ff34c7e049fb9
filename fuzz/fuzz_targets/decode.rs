//! Body decoding never panics and never yields more than its cap, whatever the coding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::core::decode::decode_body;

const CODINGS: &[&str] = &["identity", "gzip", "deflate", "br", "zstd", "gzip, br", ""];
const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let coding = CODINGS[selector as usize % CODINGS.len()];
    if let Ok(out) = decode_body(Some(coding), body, CAP) {
        assert!(out.len() <= CAP);
    }
    let _ = picket::core::store::decode_store_body(body, CAP);
});
