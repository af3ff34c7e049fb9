//! What edges and the origin read from each other never panics: relay signatures and keys
//! (any text, checked against a fixed key) and kept forwards (any bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::core::sign::{PublicKey, SecretKey};
use picket::core::spill::Spilled;

const NOW_MS: u64 = 1_795_244_400_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(spilled) = Spilled::decode(data) {
        // What decodes re-encodes to something that decodes to the same.
        assert_eq!(Spilled::decode(&spilled.encode()).as_ref(), Ok(&spilled));
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let public = SecretKey::from_seed([1; 32]).public();
    let _ = public.verify(data, text, NOW_MS, 300);
    let _ = text.parse::<PublicKey>();
    let _ = text.parse::<SecretKey>();
});
