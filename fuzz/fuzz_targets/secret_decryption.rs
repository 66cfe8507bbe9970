//! Decryption of `#` configuration values and bound secrets: any text fails cleanly or decrypts,
//! never panics; and nothing decrypts that the key did not seal (the fuzzer cannot forge AES-GCM).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stowage_core::crypto::StackKey;

fuzz_target!(|data: &[u8]| {
    let Ok(sealed) = std::str::from_utf8(data) else { return };
    let key = StackKey::from_bytes(&[7; 32]);
    if let Ok(plain) = key.decrypt(sealed) {
        panic!("forged ciphertext decrypted to {plain:?}");
    }
    if let Ok(plain) = key.decrypt_bound(sealed, "context") {
        panic!("forged bound ciphertext decrypted to {plain:?}");
    }
    // A value this key sealed round-trips.
    let round = key.encrypt(sealed).expect("encrypts");
    assert_eq!(key.decrypt(&round).expect("decrypts"), sealed);
});
