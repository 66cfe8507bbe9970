//! Form bodies and query strings with PHP's bracket conventions, and the lenient readers every
//! typed request field goes through: any input is parameters or a 400, never a panic, and what is
//! accepted nests no deeper than `nesting::MAX_NESTING` (a deeper form once overflowed the stack of
//! a request's thread; the corpus holds forms nested 64, 65 and 3,000 levels).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_http::input::{lenient, parse_form, Fields, Page};
use stowage_types::nesting::{self, MAX_NESTING};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(value) = parse_form(raw) else { return };
    assert!(nesting::check_parameters(&value).is_ok(), "an accepted form nests too deep");
    let fields = Fields(value);
    let _ = fields.decode::<Page>();
    if let Some(map) = fields.0.as_object() {
        for value in map.values() {
            let _ = lenient::read_text(value);
            let _ = lenient::read_flag(value);
            let _ = lenient::read_int(value);
            let _ = lenient::read_number(value);
            if let Ok(Some(object)) = lenient::read_object(value) {
                assert!(nesting::depth(&object) <= MAX_NESTING, "an accepted object nests too deep");
            }
            let _ = lenient::read_list(value);
        }
    }
    // The same text as a JSON body.
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = Fields(json).decode::<Page>();
    }
});
