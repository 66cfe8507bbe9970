//! How deep a client's values may nest.
//!
//! A parameter's value may nest [`MAX_NESTING`] levels: PHP's `max_input_nesting_level`, so
//! `a[b][c]=1` (two levels) is fine and 65 brackets are not. The same limit holds for a JSON body's
//! values and for JSON sent inside a form field, so whatever a client can store, the catalog can
//! read back (its reader stops at 128 levels). [`depth`] walks a value without recursion: it is
//! called on values whose depth is not yet known.

use serde_json::Value;

use crate::{Code, Error, Result};

/// The deepest a parameter's value may nest.
pub const MAX_NESTING: usize = 64;

/// How many levels of arrays and objects `value` has (a scalar has none), found without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut pending = vec![(value, 0usize)];
    while let Some((value, above)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let level = above + 1;
        deepest = deepest.max(level);
        pending.extend(children.map(|child| (child, level)));
    }
    deepest
}

/// The error for a parameter that nests deeper than [`MAX_NESTING`].
pub fn too_deep(name: &str) -> Error {
    Error::new(
        Code::MalformedRequest,
        format!("Malformed request: the parameter \"{name}\" nests deeper than {MAX_NESTING} levels."),
    )
}

/// Refuses a request body (an object of parameters) whose parameters nest too deep.
pub fn check_parameters(body: &Value) -> Result<()> {
    match body {
        Value::Object(map) => match map.iter().find(|(_, value)| depth(value) > MAX_NESTING) {
            Some((name, _)) => Err(too_deep(name)),
            None => Ok(()),
        },
        other if depth(other) > MAX_NESTING + 1 => Err(too_deep("body")),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, _| json!({ "a": inner }))
    }

    #[test]
    fn a_scalar_has_no_depth_and_each_container_adds_one() {
        assert_eq!(depth(&json!("x")), 0);
        assert_eq!(depth(&json!([])), 1);
        assert_eq!(depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
        assert_eq!(depth(&nested(1_000)), 1_000);
    }

    #[test]
    fn a_parameter_may_nest_sixty_four_levels_and_no_more() {
        assert!(check_parameters(&json!({ "params": nested(64) })).is_ok());
        let error = check_parameters(&json!({ "ok": 1, "params": nested(65) })).unwrap_err();
        assert_eq!(error.code, Code::MalformedRequest);
        assert_eq!(error.message, "Malformed request: the parameter \"params\" nests deeper than 64 levels.");
    }
}
