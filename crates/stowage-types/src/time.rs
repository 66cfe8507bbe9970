//! Time as stored (unix seconds, UTC) and as shown on the wire (`2017-11-13T16:48:28+0000`).

use chrono::{DateTime, Utc};

/// Seconds since the unix epoch, UTC. Every persisted time is one of these.
pub type Timestamp = i64;

/// The current time.
pub fn now() -> Timestamp {
    Utc::now().timestamp()
}

/// Formats a timestamp the way the Keboola API does: ISO 8601 with a colon-less offset.
pub fn format(ts: Timestamp) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%S%z").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_formatted_with_a_colon_less_offset() {
        assert_eq!(super::format(1_510_588_108), "2017-11-13T15:48:28+0000");
    }
}
