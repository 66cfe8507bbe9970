//! The stack key: AES-256-GCM encryption of values that must be recoverable but never stored in
//! plain text (shareable token secrets, and later `#` configuration values).
//!
//! The key lives outside the catalog: by default in `<data dir>/stack.key` (created on first start,
//! owner-only permissions), or wherever the operator's configuration points.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use stowage_types::{Error, Result};

const VERSION: &str = "v1:";
const NONCE_LEN: usize = 12;

/// The stack's symmetric key.
pub struct StackKey {
    cipher: Aes256Gcm,
    /// A separate key for signatures, derived from the stack key.
    mac_key: [u8; 32],
}

impl std::fmt::Debug for StackKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StackKey(..)")
    }
}

impl StackKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let mut derive = Sha256::new();
        derive.update(b"stowage-signatures-v1");
        derive.update(bytes);
        StackKey { cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes)), mac_key: derive.finalize().into() }
    }

    /// HMAC-SHA256 of `message` under the signing key, base64url without padding.
    pub fn sign(&self, message: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        mac.update(message.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Checks a signature made by [`StackKey::sign`], in constant time.
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else { return false };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        mac.update(message.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// A key from its base64 form (44 characters).
    pub fn from_base64(text: &str) -> std::result::Result<Self, String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|error| format!("the stack key is not base64: {error}"))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| "the stack key must be 32 bytes (44 base64 characters)".to_string())?;
        Ok(Self::from_bytes(&bytes))
    }

    /// Reads the key file, creating it with a fresh random key (mode 0600) when it is missing.
    pub fn load_or_create(path: &Path) -> std::result::Result<Self, String> {
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
            return Self::from_base64(&text).map_err(|error| format!("{}: {error}", path.display()));
        }
        let mut bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut bytes);
        write_private(path, &STANDARD.encode(bytes)).map_err(|error| format!("writing {}: {error}", path.display()))?;
        tracing::info!(path = %path.display(), "created a new stack key; back it up with the data");
        Ok(Self::from_bytes(&bytes))
    }

    /// Encrypts `plain` with a fresh nonce: `v1:` + base64(nonce ‖ ciphertext).
    pub fn encrypt(&self, plain: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{VERSION}{}", STANDARD.encode(out)))
    }

    /// Encrypts `plain` bound to `context` (e.g. a project and component): decrypting it needs the
    /// same context, so ciphertext copied elsewhere is useless.
    pub fn encrypt_bound(&self, plain: &str, context: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| Error::internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(sealed);
        Ok(format!("{VERSION}{}", STANDARD.encode(out)))
    }

    /// Decrypts what [`StackKey::encrypt_bound`] produced under the same context.
    pub fn decrypt_bound(&self, sealed: &str, context: &str) -> Result<String> {
        let fail = || {
            Error::validation("An encrypted value cannot be decrypted here: it belongs to another project or component, or is damaged.")
        };
        let bytes = STANDARD.decode(sealed.strip_prefix(VERSION).ok_or_else(fail)?).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: context.as_bytes() })
            .map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }

    /// Decrypts what [`StackKey::encrypt`] produced. Fails on another key or tampered data.
    pub fn decrypt(&self, sealed: &str) -> Result<String> {
        let fail = || Error::internal("a stored secret could not be decrypted with the stack key");
        let bytes = STANDARD.decode(sealed.strip_prefix(VERSION).ok_or_else(fail)?).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), body).map_err(|_| fail())?;
        String::from_utf8(plain).map_err(|_| fail())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_values_round_trip_and_differ_each_time() {
        let key = StackKey::from_bytes(&[7; 32]);
        let a = key.encrypt("secret").unwrap();
        let b = key.encrypt("secret").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("secret"));
        assert_eq!(key.decrypt(&a).unwrap(), "secret");
    }

    #[test]
    fn signatures_verify_only_for_the_same_message_and_key() {
        let key = StackKey::from_bytes(&[5; 32]);
        let signature = key.sign("container/blob:r:2026");
        assert!(key.verify("container/blob:r:2026", &signature));
        assert!(!key.verify("container/blob:w:2026", &signature));
        assert!(!StackKey::from_bytes(&[6; 32]).verify("container/blob:r:2026", &signature));
        assert!(!key.verify("container/blob:r:2026", "not base64!"));
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let sealed = StackKey::from_bytes(&[1; 32]).encrypt("secret").unwrap();
        assert!(StackKey::from_bytes(&[2; 32]).decrypt(&sealed).is_err());
    }

    #[test]
    fn a_new_key_file_is_readable_only_by_its_owner_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stack.key");
        let sealed = StackKey::load_or_create(&path).unwrap().encrypt("x").unwrap();
        assert_eq!(StackKey::load_or_create(&path).unwrap().decrypt(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
