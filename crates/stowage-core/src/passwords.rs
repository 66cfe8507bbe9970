//! Argon2 password work, bounded in time, memory and per client.
//!
//! One argon2id hash with the default parameters fills 19 MiB. Run on any blocking thread, each
//! check took that memory from an arena of its own thread and kept it (glibc does not give a freed
//! chunk of that size back), so failed sign-ins sent at once grew the server by gigabytes. Here:
//! - at most [`HASHERS`] hashes run at once, each in a memory block taken from a free list and put
//!   back after (allocated on first use: a stack nobody signs in to holds none), so argon2 never
//!   holds more than `HASHERS` × 19 MiB;
//! - at most [`MAX_WAITING`] more wait their turn; past that a check is refused with a 429 before it
//!   costs anything;
//! - an address (an IPv6 client by its /64) may start [`ADDRESS_BURST`] unauthenticated checks
//!   (sign-ins, password links) at once and one more every [`ADDRESS_REFILL`] after: it is asked
//!   before the hash runs, so many emails from one address do not get around the per-email throttle.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use stowage_types::{Code, Error, Result};
use tokio::sync::Semaphore;

use crate::allowance::Allowances;

/// Hashes that run at once.
pub const HASHERS: usize = 2;
/// Checks that may wait for a hasher; more are refused.
pub const MAX_WAITING: usize = 32;
/// Unauthenticated checks an address may start at once.
pub const ADDRESS_BURST: u32 = 20;
/// How often an address earns one more check.
pub const ADDRESS_REFILL: Duration = Duration::from_secs(3);
/// The most memory a stored hash may ask for (64 MiB): more is refused, not allocated.
const MAX_BLOCKS: usize = 64 * 1024;

/// The password hasher of a process (cheap to clone).
#[derive(Clone, Default)]
pub struct Passwords(Arc<Inner>);

struct Inner {
    hashers: Arc<Semaphore>,
    waiting: std::sync::atomic::AtomicUsize,
    /// Memory for one hash each, kept for the next.
    free: Arc<Mutex<Vec<Vec<Block>>>>,
    /// Unauthenticated checks, per address.
    addresses: Allowances<IpAddr>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            hashers: Arc::new(Semaphore::new(HASHERS)),
            waiting: Default::default(),
            free: Default::default(),
            addresses: Allowances::new(f64::from(ADDRESS_BURST), 1.0 / ADDRESS_REFILL.as_secs_f64()),
        }
    }
}

fn throttled(message: String) -> Error {
    Error::new(Code::SignInThrottled, message)
}

/// An address as the allowance counts it: IPv6 clients by their /64, which one host usually holds whole.
fn client_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl Passwords {
    /// Counts one unauthenticated check from `address`, or refuses it while the address has used
    /// up its allowance.
    pub fn admit(&self, address: Option<IpAddr>) -> Result<()> {
        let Some(address) = address.map(client_of) else { return Ok(()) };
        self.0.addresses.take(address, 1.0).map_err(|wait| {
            let wait = crate::allowance::seconds(wait);
            throttled(format!("Too many sign-ins from your address: try again in {wait}."))
        })
    }

    /// An argon2id hash of `password` in PHC form, with the default parameters.
    pub async fn hash(&self, password: String) -> Result<String> {
        self.run(move |memory| hash_with(memory, password.as_bytes())).await?
    }

    /// Whether `password` matches `hash` (a PHC string; anything else never matches).
    pub async fn verify(&self, password: String, hash: String) -> Result<bool> {
        self.run(move |memory| verify_with(memory, password.as_bytes(), &hash)).await
    }

    /// Runs `work` on a blocking thread with a hasher's turn and memory. The turn and the memory go
    /// with the thread, so a request that gives up waiting for it does not let more run at once.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static) -> Result<T> {
        use std::sync::atomic::Ordering;
        struct Waiting<'a>(&'a std::sync::atomic::AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if self.0.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
            self.0.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(throttled("Too many sign-ins at once: try again in a few seconds.".into()));
        }
        let waiting = Waiting(&self.0.waiting);
        let turn = self.0.hashers.clone().acquire_owned().await.map_err(Error::internal)?;
        drop(waiting);
        let free = self.0.free.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
            let result = work(&mut memory);
            free.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(memory);
            drop(turn);
            result
        })
        .await
        .map_err(Error::internal)
    }
}

fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String> {
    let params = Params::default();
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, &mut memory[..])
        .map_err(Error::internal)?;
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(Error::internal)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(Error::internal)?),
    };
    Ok(hash.to_string())
}

fn verify_with(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = parsed.version.map_or(Ok(Version::default()), Version::try_from);
    let Ok(version) = version else { return false };
    if params.block_count() > MAX_BLOCKS {
        tracing::warn!(blocks = params.block_count(), "a stored password hash asks for more memory than allowed");
        return false;
    }
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else { return false };
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut out,
        &mut memory[..],
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|computed| computed == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only_and_reads_as_argon2_does() {
        let passwords = Passwords::default();
        let hash = passwords.hash("correct horse battery".into()).await.unwrap();
        assert!(passwords.verify("correct horse battery".into(), hash.clone()).await.unwrap());
        assert!(!passwords.verify("correct horse batterz".into(), hash.clone()).await.unwrap());
        // The hash is standard PHC argon2id: the argon2 crate's own verifier agrees.
        use argon2::PasswordVerifier;
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse battery", &parsed).is_ok());
        // And a hash made by the crate's own hasher verifies here.
        use argon2::PasswordHasher;
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        let theirs = Argon2::default().hash_password(b"other password", &salt).unwrap().to_string();
        assert!(passwords.verify("other password".into(), theirs).await.unwrap());
        assert!(!passwords.verify("x".into(), "not a hash".into()).await.unwrap());
    }

    #[tokio::test]
    async fn memory_is_reused_and_never_more_than_one_block_per_hasher() {
        let passwords = Passwords::default();
        let checks = (0..8).map(|_| {
            passwords.verify(
                "wrong".into(),
                "$argon2id$v=19$m=19456,t=2,p=1$c2l4dGVlbiBieXRlIHNsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                    .into(),
            )
        });
        for checked in futures::future::join_all(checks).await {
            assert!(!checked.unwrap());
        }
        let free = passwords.0.free.lock().unwrap();
        assert!(!free.is_empty() && free.len() <= HASHERS, "{} memory blocks kept", free.len());
    }

    #[test]
    fn an_address_gets_its_burst_then_one_check_per_refill() {
        let passwords = Passwords::default();
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..ADDRESS_BURST {
            passwords.admit(Some(address)).unwrap();
        }
        let refused = passwords.admit(Some(address)).unwrap_err();
        assert_eq!(refused.code, Code::SignInThrottled);
        assert_eq!(refused.message, "Too many sign-ins from your address: try again in 3 seconds.");
        // Another host is not held back, and the hosts of one IPv6 /64 count as one.
        passwords.admit(Some("192.0.2.8".parse().unwrap())).unwrap();
        for _ in 0..ADDRESS_BURST {
            passwords.admit(Some("2001:db8::1".parse().unwrap())).unwrap();
        }
        assert!(passwords.admit(Some("2001:db8::ffff:2".parse().unwrap())).is_err());
    }
}
