//! Allowances that refill with time (token buckets), one per key: how much a client address or a
//! project may do in a burst and how fast it earns more. They live in the process: of several
//! servers on one catalog, each counts its own requests.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys whose allowance is counted; past this many, those whose allowance is full again are forgotten.
const KEYS_KEPT: usize = 4096;

/// An allowance per key of `burst` units at once, earning `per_second` more.
pub struct Allowances<K> {
    burst: f64,
    per_second: f64,
    left: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq> Allowances<K> {
    pub fn new(burst: f64, per_second: f64) -> Self {
        Allowances { burst, per_second, left: Mutex::default() }
    }

    /// Takes `cost` units of `key`'s allowance, or answers how long until it has them.
    pub fn take(&self, key: K, cost: f64) -> Result<(), Duration> {
        let now = Instant::now();
        let (burst, rate) = (self.burst, self.per_second);
        let mut left = self.left.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if left.len() >= KEYS_KEPT {
            left.retain(|_, (units, at)| *units + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (units, at) = left.entry(key).or_insert((burst, now));
        *units = (*units + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *units < cost {
            return Err(Duration::from_secs_f64((cost - *units) / rate));
        }
        *units -= cost;
        Ok(())
    }
}

/// "N second(s)", rounded up, for a message that says how long to wait.
pub fn seconds(wait: Duration) -> String {
    let seconds = wait.as_secs_f64().ceil().max(1.0) as u64;
    if seconds == 1 {
        "1 second".into()
    } else {
        format!("{seconds} seconds")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_takes_its_burst_then_waits_for_what_it_earns_and_others_are_not_held_back() {
        let allowances = Allowances::new(3.0, 0.5);
        for _ in 0..3 {
            allowances.take("a", 1.0).unwrap();
        }
        let wait = allowances.take("a", 1.0).unwrap_err();
        assert!(wait > Duration::from_millis(1900) && wait <= Duration::from_secs(2), "{wait:?}");
        assert_eq!(seconds(wait), "2 seconds");
        allowances.take("b", 3.0).unwrap();
        assert!(allowances.take("c", 4.0).is_err(), "more than the burst is never allowed at once");
    }
}
