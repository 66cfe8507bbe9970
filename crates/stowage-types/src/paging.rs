//! `limit` and `offset` of every list route, checked by one parser so that siblings cannot differ.

use crate::{Error, Result};

/// A page of a list as a client asked for it; `None` where it sent nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Paging {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Paging {
    /// A page of at most `limit` items from the start.
    pub fn first(limit: i64) -> Self {
        Paging { limit: Some(limit), offset: None }
    }

    /// `(limit, offset)` for a list whose store pages it: `limit` in `1..=max` (`default` when not
    /// given), `offset` not negative.
    pub fn bounds(self, default: i64, max: i64) -> Result<(i64, i64)> {
        let limit = self.limit.unwrap_or(default);
        if !(1..=max).contains(&limit) {
            return Err(Error::validation(format!("Parameter \"limit\" must be between 1 and {max}, {limit} given.")));
        }
        Ok((limit, self.checked_offset()?))
    }

    /// The page of a list that is read whole: every item unless a `limit` (at least 1) is given.
    pub fn window<T>(self, items: Vec<T>) -> Result<Vec<T>> {
        let limit = match self.limit {
            Some(limit) if limit < 1 => {
                return Err(Error::validation(format!("Parameter \"limit\" must be at least 1, {limit} given.")))
            }
            Some(limit) => usize::try_from(limit).unwrap_or(usize::MAX),
            None => usize::MAX,
        };
        let offset = usize::try_from(self.checked_offset()?).unwrap_or(usize::MAX);
        Ok(items.into_iter().skip(offset).take(limit).collect())
    }

    fn checked_offset(self) -> Result<i64> {
        match self.offset.unwrap_or(0) {
            offset if offset < 0 => {
                Err(Error::validation(format!("Parameter \"offset\" must not be negative, {offset} given.")))
            }
            offset => Ok(offset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_out_of_range_or_a_negative_offset_is_refused_with_the_value_given() {
        let error = Paging { limit: Some(0), offset: None }.bounds(100, 1000).unwrap_err();
        assert_eq!(error.message, "Parameter \"limit\" must be between 1 and 1000, 0 given.");
        let error = Paging { limit: None, offset: Some(-5) }.bounds(100, 1000).unwrap_err();
        assert_eq!(error.message, "Parameter \"offset\" must not be negative, -5 given.");
        assert_eq!(Paging::default().bounds(100, 1000).unwrap(), (100, 0));
    }

    #[test]
    fn a_window_of_a_whole_list_skips_and_takes_as_asked() {
        let items = vec![1, 2, 3, 4];
        assert_eq!(Paging::default().window(items.clone()).unwrap(), items);
        assert_eq!(Paging { limit: Some(2), offset: Some(1) }.window(items.clone()).unwrap(), vec![2, 3]);
        assert!(Paging { limit: Some(-1), offset: None }.window(items).is_err());
    }
}
