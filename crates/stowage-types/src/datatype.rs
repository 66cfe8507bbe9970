//! Typed columns: Keboola's base types, a column's definition, and the check that turns a CSV value
//! into its canonical text (what exports and previews return) or says why it is not one.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Keboola's base types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum BaseType {
    String,
    Integer,
    Numeric,
    Float,
    Boolean,
    Date,
    Timestamp,
}

impl BaseType {
    /// Every base type, in Keboola's order.
    pub const ALL: [BaseType; 7] = [
        BaseType::Boolean,
        BaseType::Date,
        BaseType::Float,
        BaseType::Integer,
        BaseType::Numeric,
        BaseType::String,
        BaseType::Timestamp,
    ];

    /// The base type's name (`STRING`, ...).
    pub fn name(self) -> &'static str {
        match self {
            BaseType::String => "STRING",
            BaseType::Integer => "INTEGER",
            BaseType::Numeric => "NUMERIC",
            BaseType::Float => "FLOAT",
            BaseType::Boolean => "BOOLEAN",
            BaseType::Date => "DATE",
            BaseType::Timestamp => "TIMESTAMP",
        }
    }

    /// A base type by its name.
    pub fn parse(name: &str) -> Option<BaseType> {
        BaseType::ALL.into_iter().find(|base| base.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The base type of a database type name as clients send it in `definition.type` (`INT`,
    /// `VARCHAR`, `NUMBER`, `TIMESTAMP_NTZ`, ...).
    pub fn of_type(name: &str) -> Option<BaseType> {
        let upper = name.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "STRING" | "VARCHAR" | "TEXT" | "CHAR" | "CHARACTER" | "NVARCHAR" | "NCHAR" | "CHARACTER VARYING" => {
                BaseType::String
            }
            "INTEGER" | "INT" | "BIGINT" | "SMALLINT" | "TINYINT" | "BYTEINT" | "INT64" => BaseType::Integer,
            "NUMERIC" | "NUMBER" | "DECIMAL" | "BIGNUMERIC" => BaseType::Numeric,
            "FLOAT" | "FLOAT4" | "FLOAT8" | "FLOAT64" | "DOUBLE" | "DOUBLE PRECISION" | "REAL" => BaseType::Float,
            "BOOLEAN" | "BOOL" => BaseType::Boolean,
            "DATE" => BaseType::Date,
            "TIMESTAMP" | "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" | "TIMESTAMP_TZ" | "DATETIME" => BaseType::Timestamp,
            _ => return None,
        })
    }

    /// This stack's database type of the base type (`definition.type`, `KBC.datatype.type`).
    pub fn native(self) -> &'static str {
        match self {
            BaseType::String => "VARCHAR",
            other => other.name(),
        }
    }
}

impl fmt::Display for BaseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Longest `STRING` length, in characters.
pub const MAX_STRING_LENGTH: u64 = 16_777_216;
/// Most digits of a `NUMERIC`.
pub const MAX_PRECISION: u32 = 38;

/// One typed column: its base type, `length` (`STRING`: most characters; `NUMERIC`:
/// `precision,scale`), whether it may be empty (null), and the value an empty value takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnType {
    pub name: String,
    pub basetype: BaseType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<String>,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

impl ColumnType {
    /// Checks the length and the default for the base type; the definition as it is kept (the
    /// length in its canonical form, the default canonical).
    pub fn checked(mut self) -> Result<ColumnType, String> {
        self.length = match (self.basetype, self.length.as_deref().map(str::trim).filter(|l| !l.is_empty())) {
            (BaseType::String, Some(length)) => match length.parse::<u64>() {
                Ok(n) if (1..=MAX_STRING_LENGTH).contains(&n) => Some(n.to_string()),
                _ => {
                    return Err(format!(
                    "the length of a STRING is a number of characters from 1 to {MAX_STRING_LENGTH}, not \"{length}\""
                ))
                }
            },
            (BaseType::Numeric, length) => {
                let (precision, scale) = match length {
                    None => (MAX_PRECISION, 0),
                    Some(length) => parse_precision(length).ok_or_else(|| {
                        format!("the length of a NUMERIC is \"precision,scale\" with a precision from 1 to {MAX_PRECISION} and a scale from 0 to the precision, not \"{length}\"")
                    })?,
                };
                Some(format!("{precision},{scale}"))
            }
            (_, None) => None,
            (base, Some(length)) => return Err(format!("a {base} column takes no length, \"{length}\" given")),
        };
        if let Some(default) = self.default.take() {
            let canonical =
                self.canonical_value(&default).map_err(|reason| format!("the default \"{default}\" {reason}"))?;
            self.default = Some(canonical);
        }
        Ok(self)
    }

    fn precision(&self) -> (u32, u32) {
        self.length.as_deref().and_then(parse_precision).unwrap_or((MAX_PRECISION, 0))
    }

    /// A CSV value as stored: the column's default for an empty value, empty (null) when the column
    /// is nullable, the canonical text otherwise; or why the value does not fit.
    pub fn canonical(&self, value: &str) -> Result<String, String> {
        if value.is_empty() {
            if let Some(default) = &self.default {
                return Ok(default.clone());
            }
            if self.nullable || self.basetype == BaseType::String {
                return Ok(String::new());
            }
            return Err("is empty, and the column is not nullable".into());
        }
        self.canonical_value(value)
    }

    fn canonical_value(&self, value: &str) -> Result<String, String> {
        match self.basetype {
            BaseType::String => match self.length.as_deref().and_then(|l| l.parse::<usize>().ok()) {
                Some(most) if value.chars().count() > most => Err(format!("is longer than {most} characters")),
                _ => Ok(value.to_string()),
            },
            BaseType::Integer => {
                let (negative, digits, fraction) = decimal(value).ok_or("is not an integer")?;
                if !fraction.is_empty() || digits.len() > MAX_PRECISION as usize {
                    return Err("is not an integer".into());
                }
                Ok(signed(negative, digits))
            }
            BaseType::Numeric => {
                let (precision, scale) = self.precision();
                let (negative, digits, fraction) = decimal(value).ok_or("is not a number")?;
                if fraction.len() > scale as usize {
                    return Err(format!("has {} decimal places, the column keeps {scale}", fraction.len()));
                }
                if digits.len() > (precision - scale) as usize {
                    return Err(format!("has more than {} digits before the decimal point", precision - scale));
                }
                let zero = digits == "0" && fraction.bytes().all(|b| b == b'0');
                let mut text = if negative && !zero { format!("-{digits}") } else { digits.to_string() };
                if scale > 0 {
                    text.push('.');
                    text.push_str(fraction);
                    text.extend(std::iter::repeat_n('0', scale as usize - fraction.len()));
                }
                Ok(text)
            }
            BaseType::Float => match value.trim().parse::<f64>() {
                Ok(number) if number.is_finite() => Ok(float_text(number)),
                _ => Err("is not a finite number".into()),
            },
            BaseType::Boolean => match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "t" | "yes" | "y" | "on" => Ok("true".into()),
                "false" | "0" | "f" | "no" | "n" | "off" => Ok("false".into()),
                _ => Err("is not a boolean (true/false, 1/0, yes/no)".into()),
            },
            BaseType::Date => NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d")
                .ok()
                .filter(|date| YEARS.contains(&date.year()))
                .map(|date| date.format("%Y-%m-%d").to_string())
                .ok_or_else(|| "is not a date (YYYY-MM-DD, years 1 to 9999)".into()),
            BaseType::Timestamp => timestamp(value.trim())
                .filter(|at| YEARS.contains(&at.year()))
                .map(|at| {
                    let text = at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
                    text.trim_end_matches('0').trim_end_matches('.').to_string()
                })
                .ok_or_else(|| {
                    "is not a timestamp (YYYY-MM-DD HH:MM:SS, with a fraction and an offset if any; years 1 to 9999)"
                        .into()
                }),
        }
    }
}

/// The years a DATE or TIMESTAMP holds: those written with four digits, which every engine reads
/// and writes alike.
const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A FLOAT's text: the shortest digits that read back as the same number, in positional notation
/// for decimal exponents from -4 to 14 and as `1.5e-07` / `1e+20` outside them. This is how
/// PostgreSQL writes a `double precision`, so both engines return the same text.
pub fn float_text(number: f64) -> String {
    let scientific = format!("{number:e}");
    let (mantissa, exponent) = scientific.split_once('e').expect("`{:e}` writes an exponent");
    let exponent: i32 = exponent.parse().expect("`{:e}` writes a decimal exponent");
    if (-4..15).contains(&exponent) {
        number.to_string()
    } else {
        format!("{mantissa}e{}{:02}", if exponent < 0 { '-' } else { '+' }, exponent.abs())
    }
}

/// `precision,scale` of a NUMERIC, when it is one.
fn parse_precision(length: &str) -> Option<(u32, u32)> {
    let (precision, scale) = match length.split_once(',') {
        Some((precision, scale)) => (precision.trim().parse().ok()?, scale.trim().parse().ok()?),
        None => (length.trim().parse().ok()?, 0),
    };
    ((1..=MAX_PRECISION).contains(&precision) && scale <= precision).then_some((precision, scale))
}

/// A decimal number's sign, integer digits (without leading zeros, "0" for none) and fraction
/// digits; `None` when the text is not one.
fn decimal(value: &str) -> Option<(bool, &str, &str)> {
    let text = value.trim();
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = whole.trim_start_matches('0');
    Some((negative, if whole.is_empty() { "0" } else { whole }, fraction))
}

fn signed(negative: bool, digits: &str) -> String {
    if negative && digits != "0" {
        format!("-{digits}")
    } else {
        digits.to_string()
    }
}

/// A timestamp in UTC: date and time with `T` or a space, seconds optional, a fraction, and `Z` or
/// an offset (converted to UTC).
fn timestamp(text: &str) -> Option<NaiveDateTime> {
    if let Ok(at) = DateTime::parse_from_rfc3339(&text.replacen(' ', "T", 1)) {
        return Some(at.naive_utc());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(text, format) {
            return Some(at);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(basetype: BaseType, length: Option<&str>, nullable: bool) -> ColumnType {
        let column =
            ColumnType { name: "c".into(), basetype, length: length.map(str::to_string), nullable, default: None };
        column.checked().unwrap()
    }

    #[test]
    fn values_become_keboolas_canonical_text() {
        let cases = [
            (column(BaseType::Integer, None, true), "007", "7"),
            (column(BaseType::Integer, None, true), "-0", "0"),
            (column(BaseType::Integer, None, true), "+42", "42"),
            (column(BaseType::Numeric, Some("10,2"), true), "1.5", "1.50"),
            (column(BaseType::Numeric, Some("10,2"), true), "-.5", "-0.50"),
            (column(BaseType::Numeric, Some("10,2"), true), "-0.00", "0.00"),
            (column(BaseType::Numeric, None, true), "12", "12"),
            (column(BaseType::Float, None, true), "1.50", "1.5"),
            (column(BaseType::Float, None, true), "2e3", "2000"),
            (column(BaseType::Float, None, true), "1e20", "1e+20"),
            (column(BaseType::Float, None, true), "0.00000015", "1.5e-07"),
            (column(BaseType::Float, None, true), "0.0001", "0.0001"),
            (column(BaseType::Float, None, true), "123456789012345", "123456789012345"),
            (column(BaseType::Float, None, true), "1234567890123456", "1.234567890123456e+15"),
            (column(BaseType::Float, None, true), "-2.5E300", "-2.5e+300"),
            (column(BaseType::Float, None, true), "-0", "-0"),
            (column(BaseType::Boolean, None, true), "1", "true"),
            (column(BaseType::Boolean, None, true), "No", "false"),
            (column(BaseType::Date, None, true), "2026-02-03", "2026-02-03"),
            (column(BaseType::Timestamp, None, true), "2026-02-03T04:05:06Z", "2026-02-03 04:05:06"),
            (column(BaseType::Timestamp, None, true), "2026-02-03 04:05:06.250+01:00", "2026-02-03 03:05:06.25"),
            (column(BaseType::Timestamp, None, true), "2026-02-03 04:05", "2026-02-03 04:05:00"),
            (column(BaseType::Integer, None, true), "", ""),
        ];
        for (column, value, canonical) in cases {
            assert_eq!(column.canonical(value).as_deref(), Ok(canonical), "{} {value:?}", column.basetype);
        }
    }

    #[test]
    fn values_that_do_not_fit_say_why() {
        let cases = [
            (column(BaseType::Integer, None, true), "1.5", "is not an integer"),
            (column(BaseType::Integer, None, false), "", "is empty, and the column is not nullable"),
            (column(BaseType::Numeric, Some("4,2"), true), "123.4", "has more than 2 digits before the decimal point"),
            (column(BaseType::Numeric, Some("4,2"), true), "1.234", "has 3 decimal places, the column keeps 2"),
            (column(BaseType::Float, None, true), "NaN", "is not a finite number"),
            (column(BaseType::Boolean, None, true), "maybe", "is not a boolean (true/false, 1/0, yes/no)"),
            (column(BaseType::Date, None, true), "2026-02-30", "is not a date (YYYY-MM-DD, years 1 to 9999)"),
            (column(BaseType::Date, None, true), "0000-01-01", "is not a date (YYYY-MM-DD, years 1 to 9999)"),
            (column(BaseType::String, Some("3"), true), "abcd", "is longer than 3 characters"),
        ];
        for (column, value, reason) in cases {
            assert_eq!(column.canonical(value), Err(reason.to_string()), "{} {value:?}", column.basetype);
        }
    }

    #[test]
    fn a_definition_is_checked_and_kept_canonical() {
        let numeric = ColumnType {
            name: "n".into(),
            basetype: BaseType::Numeric,
            length: None,
            nullable: false,
            default: Some("1".into()),
        };
        let checked = numeric.checked().unwrap();
        assert_eq!((checked.length.as_deref(), checked.default.as_deref()), (Some("38,0"), Some("1")));
        assert_eq!(checked.canonical(""), Ok("1".into()), "an empty value takes the default");
        let wrong = ColumnType {
            name: "d".into(),
            basetype: BaseType::Date,
            length: Some("3".into()),
            nullable: true,
            default: None,
        };
        assert_eq!(wrong.checked(), Err("a DATE column takes no length, \"3\" given".into()));
        assert_eq!(BaseType::of_type("timestamp_ntz"), Some(BaseType::Timestamp));
        assert_eq!(BaseType::of_type("GEOGRAPHY"), None);
    }
}
