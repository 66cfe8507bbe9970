//! Points in time as clients give them for `changedSince`/`changedUntil`: a unix timestamp, an
//! ISO 8601 date or date-time, or relative text as PHP's `strtotime` reads it (`-2 days`,
//! `1 hour ago`, `now`, `today`, `yesterday`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

/// Parses `value` relative to `now`. `name` is the parameter, for the error message.
pub fn parse(name: &str, value: &str, now: Timestamp) -> Result<Timestamp> {
    let value = value.trim();
    let fail = || {
        Error::validation(format!(
            "Parameter \"{name}\" must be a unix timestamp, an ISO 8601 date or a relative time such as \"-2 days\", \"{value}\" given."
        ))
    };
    if let Ok(ts) = value.parse::<i64>() {
        return Ok(ts);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(value) {
        return Ok(dt.timestamp());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(dt) = DateTime::parse_from_str(value, format) {
            return Ok(dt.timestamp());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(Utc.from_utc_datetime(&naive).timestamp());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return Ok(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).ok_or_else(fail)?).timestamp());
    }
    relative(value.to_lowercase().as_str(), now).ok_or_else(fail)
}

fn unit_seconds(unit: &str) -> Option<i64> {
    let unit = unit.strip_suffix('s').filter(|u| !u.is_empty()).unwrap_or(unit);
    Some(match unit {
        "sec" | "second" => 1,
        "min" | "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 7 * 86_400,
        "month" => 30 * 86_400,
        "year" => 365 * 86_400,
        _ => return None,
    })
}

/// Relative text as a time; none when it does not parse or the time would not fit (an overflow is
/// a client's mistake, answered as one, like any other text that is no time).
fn relative(text: &str, now: Timestamp) -> Option<Timestamp> {
    let midnight = now.checked_sub(now.rem_euclid(86_400))?;
    match text {
        "now" => return Some(now),
        "today" | "midnight" => return Some(midnight),
        "yesterday" => return midnight.checked_sub(86_400),
        _ => {}
    }
    let (text, ago) = match text.strip_suffix(" ago") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut offset = 0i64;
    let mut index = 0;
    while index < words.len() {
        // "-2 days", "+1 hour", "2days" and "-2days" all count.
        let word = words[index];
        let split = word.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(word.len());
        let (number, unit) = if split < word.len() {
            (&word[..split], &word[split..])
        } else {
            index += 1;
            (word, *words.get(index)?)
        };
        let amount: i64 = number.trim_start_matches('+').parse().ok()?;
        offset = offset.checked_add(amount.checked_mul(unit_seconds(unit)?)?)?;
        index += 1;
    }
    if ago {
        now.checked_sub(offset.checked_abs()?)
    } else {
        now.checked_add(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn a_relative_time_too_far_out_is_refused_not_overflowed() {
        // Found by the `changed_since` fuzz target (with the clock at i64::MAX / 2): the time overflowed.
        let error = parse("changedSince", "1700000000000001 hours", i64::MAX / 2).unwrap_err();
        assert!(error.message.starts_with("Parameter \"changedSince\" must be"), "{}", error.message);
        assert!(parse("changedSince", "9223372036854775807 seconds", NOW).is_err());
        assert!(parse("changedSince", "-9223372036854775808 seconds ago", NOW).is_err());
        assert!(parse("changedSince", "yesterday", i64::MIN + 5).is_err());
        assert_eq!(parse("changedSince", "-1 hour", NOW).unwrap(), NOW - 3600);
    }

    #[test]
    fn unix_timestamps_and_iso_dates_are_absolute() {
        assert_eq!(parse("changedSince", "1360138863", NOW).unwrap(), 1_360_138_863);
        assert_eq!(parse("changedSince", "2013-02-12T15:19:21+00:00", NOW).unwrap(), 1_360_682_361);
        assert_eq!(parse("changedSince", "2013-02-12T16:19:21+0100", NOW).unwrap(), 1_360_682_361);
        assert_eq!(parse("changedSince", "2013-02-12", NOW).unwrap(), 1_360_627_200);
    }

    #[test]
    fn relative_text_counts_back_from_now() {
        assert_eq!(parse("changedSince", "-2 days", NOW).unwrap(), NOW - 2 * 86_400);
        assert_eq!(parse("changedSince", "-1 days", NOW).unwrap(), NOW - 86_400);
        assert_eq!(parse("changedSince", "1 hour ago", NOW).unwrap(), NOW - 3600);
        assert_eq!(parse("changedSince", "-90 minutes", NOW).unwrap(), NOW - 5400);
        assert_eq!(parse("changedSince", "-1 day -2 hours", NOW).unwrap(), NOW - 86_400 - 7200);
        assert_eq!(parse("changedSince", "now", NOW).unwrap(), NOW);
    }

    #[test]
    fn anything_else_is_a_400_naming_the_parameter() {
        let error = parse("changedUntil", "last tuesday-ish", NOW).unwrap_err();
        assert_eq!(error.code.status(), 400);
        assert!(error.message.starts_with("Parameter \"changedUntil\""));
    }
}
