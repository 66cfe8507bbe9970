//! `changedSince`/`changedUntil` as clients write them (a timestamp, ISO 8601, or `strtotime`-like
//! relative text): any text is a time or a 400, never a panic or an overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::tables::when;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for now in [0, 1_764_720_000, i64::MAX / 2] {
        let _ = when::parse("changedSince", text, now);
    }
});
