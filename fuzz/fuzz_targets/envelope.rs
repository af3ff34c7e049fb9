//! Envelope parsing never panics, and whatever parses survives a serialize/parse round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::core::envelope::Envelope;

fuzz_target!(|data: &[u8]| {
    if let Ok(envelope) = Envelope::parse(data) {
        let again = Envelope::parse(&envelope.to_bytes()).expect("a serialized envelope parses");
        assert_eq!(again.items.len(), envelope.items.len());
        for (a, b) in again.items.iter().zip(&envelope.items) {
            assert_eq!((a.ty(), &a.payload), (b.ty(), &b.payload));
        }
    }
});
