//! The Azure-Blob-compatible endpoint's request parsing: the block list XML and the SAS check of a
//! request's query. Neither panics, and no query that was not signed by the stack's key passes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::crypto::StackKey;
use stowage_core::files::{check_sas, SasPermission};
use stowage_http::input::block_list;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = block_list(text);
    // `container \n blob \n query`: a request as the endpoint sees it.
    let mut parts = text.splitn(3, '\n');
    let (container, blob, query) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let key = StackKey::from_bytes(&[7; 32]);
    for needed in [SasPermission::Read, SasPermission::Write] {
        if check_sas(&key, container, blob, query, needed, 0).is_ok() {
            // Passing needs a signature of this key over these fields; the fuzzer cannot forge one.
            panic!("an unsigned query passed the SAS check: {query:?}");
        }
    }
});
