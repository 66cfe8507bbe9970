//! Token secrets: generation, hashing and constant-time comparison.
//!
//! A storage token looks like `12-345-stow` + 36 random base62 characters + a 6-character base62
//! CRC-32 of everything before it. `<projectId>-<tokenId>-` stays parseable as in Keboola, the
//! random part stays alphanumeric (Keboola's clients check `^[0-9]+-[0-9]+-[0-9A-Za-z]+$`), and
//! the fixed `stow` marker plus the checksum let secret scanners recognise a leaked token without
//! false positives. Secrets carry over 200 bits of randomness, so a single SHA-256 is the right
//! hash for them: a slow password hash would add latency to every request and no security.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RANDOM_LEN: usize = 36;
const CHECKSUM_LEN: usize = 6;

/// The marker every generated secret carries after its numeric prefix.
pub const MARKER: &str = "stow";

fn random_base62(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char).collect()
}

fn checksum(body: &str) -> String {
    let mut value = crc32fast::hash(body.as_bytes()) as u64;
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A new storage token secret for token `token_id` of `project_id`.
pub fn new_storage_secret(project_id: i64, token_id: i64) -> String {
    let body = format!("{project_id}-{token_id}-{MARKER}{}", random_base62(RANDOM_LEN));
    let sum = checksum(&body);
    body + &sum
}

/// A new manage token secret.
pub fn new_manage_secret() -> String {
    let body = format!("manage-{MARKER}{}", random_base62(RANDOM_LEN));
    let sum = checksum(&body);
    body + &sum
}

/// True when `secret` has the shape and a valid checksum of a generated secret.
pub fn has_valid_checksum(secret: &str) -> bool {
    secret.len() > CHECKSUM_LEN && secret.is_char_boundary(secret.len() - CHECKSUM_LEN) && {
        let (body, sum) = secret.split_at(secret.len() - CHECKSUM_LEN);
        body.contains(MARKER) && checksum(body) == sum
    }
}

/// The token id a storage secret names, if it has the `<projectId>-<tokenId>-...` shape.
pub fn token_id_of(secret: &str) -> Option<(i64, i64)> {
    let mut parts = secret.splitn(3, '-');
    let project_id = parts.next()?.parse().ok()?;
    let token_id = parts.next()?.parse().ok()?;
    parts.next().filter(|rest| !rest.is_empty())?;
    Some((project_id, token_id))
}

/// The stored form of a secret: hex SHA-256.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Compares a presented secret with a stored hash in constant time.
pub fn matches(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// The secret part of a one-time link (a shared token, a console password link): 40 characters
/// of letters and digits, about 238 bits.
pub fn new_link_secret() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::thread_rng();
    (0..40).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_secrets_keep_the_keboola_shape_and_carry_a_valid_checksum() {
        let secret = new_storage_secret(12, 345);
        assert!(secret.starts_with("12-345-stow"));
        assert_eq!(token_id_of(&secret), Some((12, 345)));
        let rest = secret.splitn(3, '-').nth(2).unwrap();
        assert!(rest.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(has_valid_checksum(&secret));
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let secret = new_storage_secret(1, 2);
        let mut bytes = secret.into_bytes();
        let i = bytes.len() - 10;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        assert!(!has_valid_checksum(&String::from_utf8(bytes).unwrap()));
    }

    #[test]
    fn secrets_match_only_their_own_hash() {
        let secret = new_storage_secret(1, 2);
        assert!(matches(&secret, &hash(&secret)));
        assert!(!matches(&new_storage_secret(1, 2), &hash(&secret)));
    }

    #[test]
    fn malformed_secrets_name_no_token() {
        assert_eq!(token_id_of("some-token"), None);
        assert_eq!(token_id_of("1-2-"), None);
        assert_eq!(token_id_of("1-x-abc"), None);
    }
}
