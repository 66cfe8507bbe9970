//! The events listing's `q` (`field:value AND field:value`, quotes, or a word): any text is a
//! filter or a 400, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::events::parse_query;
use stowage_types::event::EventFilter;

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else { return };
    let _ = parse_query(q, &mut EventFilter::default());
});
