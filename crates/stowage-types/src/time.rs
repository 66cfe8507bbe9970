//! Time as stored (unix seconds, UTC) and as shown on the wire (`2017-11-13T16:48:28+0000`).

use chrono::{DateTime, Utc};

/// Seconds since the unix epoch, UTC. Every persisted time is one of these.
pub type Timestamp = i64;

/// The current time.
pub fn now() -> Timestamp {
    Utc::now().timestamp()
}

/// Formats a timestamp the way the Keboola API does: ISO 8601 with a colon-less offset.
/// Written field by field: every listing formats several per row, and `strftime` parses its
/// pattern each time.
pub fn format(ts: Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    let at = DateTime::<Utc>::from_timestamp(ts, 0).unwrap_or_default();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+0000",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_formatted_with_a_colon_less_offset() {
        assert_eq!(super::format(1_510_588_108), "2017-11-13T15:48:28+0000");
        assert_eq!(super::format(0), "1970-01-01T00:00:00+0000");
        assert_eq!(super::format(-1), "1969-12-31T23:59:59+0000");
    }
}
