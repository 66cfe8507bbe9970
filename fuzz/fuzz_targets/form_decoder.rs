//! Form bodies and query strings with PHP's bracket conventions, and the lenient readers every
//! typed request field goes through: any input is parameters or a 400, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_http::input::{lenient, parse_form, Fields, Page};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Ok(value) = parse_form(raw) else { return };
    let fields = Fields(value);
    let _ = fields.decode::<Page>();
    if let Some(map) = fields.0.as_object() {
        for value in map.values() {
            let _ = lenient::read_text(value);
            let _ = lenient::read_flag(value);
            let _ = lenient::read_int(value);
            let _ = lenient::read_number(value);
            let _ = lenient::read_object(value);
            let _ = lenient::read_list(value);
        }
    }
    // The same text as a JSON body.
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = Fields(json).decode::<Page>();
    }
});
