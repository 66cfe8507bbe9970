//! Request parameters as real clients send them.
//!
//! Bodies come as JSON or as `application/x-www-form-urlencoded`, and query strings use the same
//! PHP conventions: arrays as `x[]=a`, `x[0]=a` or JSON, nested keys as `a[b][c]=v`, booleans as
//! `1/0`, `true/false` or `True/False`. Both are turned into one JSON value. API routes read it as
//! a typed shape, [`Input<T>`] (the body) and [`Params<T>`] (the query), whose fields take the
//! lenient readers of [`lenient`]; a value of the wrong shape is a 400 naming the parameter. The
//! console reads the value through [`Fields`], whose accessors apply the same readers.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use stowage_types::nesting::{self, MAX_NESTING};
use stowage_types::{Code, Paging};

use crate::error::ApiError;

/// Decodes `%XX` and `+` of one form component; `None` when the bytes are not UTF-8. A `%` that
/// starts no escape stays as it is.
pub(crate) fn decode_component(raw: &str) -> Option<String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced).decode_utf8().ok().map(std::borrow::Cow::into_owned)
}

/// Splits `a[b][]` into `["a", "b", ""]`. A key without brackets is one segment, as is one whose
/// brackets do not pair up. A key with more than [`MAX_NESTING`] brackets is refused, as PHP's
/// `max_input_nesting_level` refuses it, before anything is built from it.
fn key_path(key: &str) -> Result<Vec<&str>, ApiError> {
    let Some(open) = key.find('[') else { return Ok(vec![key]) };
    if open == 0 || !key.ends_with(']') {
        return Ok(vec![key]);
    }
    let mut path = vec![&key[..open]];
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        let Some(close) = stripped.find(']') else { return Ok(vec![key]) };
        if path.len() > MAX_NESTING {
            return Err(nesting::too_deep(&key[..open]).into());
        }
        path.push(&stripped[..close]);
        rest = &stripped[close + 1..];
    }
    if !rest.is_empty() {
        return Ok(vec![key]);
    }
    Ok(path)
}

/// Puts `value` at `path` below `root`, walking down without recursion.
fn insert(root: &mut Map<String, Value>, path: &[&str], value: String) {
    let mut path: Vec<String> = path.iter().map(|segment| segment.to_string()).collect();
    let mut target = root;
    let mut at = 0;
    loop {
        if at + 1 == path.len() {
            target.insert(path[at].clone(), Value::String(value));
            return;
        }
        let next_is_append = path[at + 1].is_empty();
        let entry = target.entry(path[at].clone()).or_insert_with(|| {
            if next_is_append {
                Value::Array(vec![])
            } else {
                Value::Object(Map::new())
            }
        });
        // A scalar (or a list given keys) met again as a structure: the structure wins, as in PHP.
        let fits = entry.is_object() || (next_is_append && entry.is_array());
        if !fits {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Array(items) => {
                if at + 2 == path.len() {
                    items.push(Value::String(value));
                    return;
                }
                items.push(Value::Object(Map::new()));
                let Some(Value::Object(object)) = items.last_mut() else { unreachable!("an object was pushed") };
                target = object;
                at += 2;
            }
            Value::Object(object) => {
                if next_is_append {
                    // `x[]` after `x[key]`: append under the next free index.
                    path[at + 1] = object.len().to_string();
                }
                target = object;
                at += 1;
            }
            _ => unreachable!("made a structure above"),
        }
    }
}

/// Turns objects keyed `0..n` into arrays, recursively: no deeper than [`key_path`] lets a form nest.
fn normalize(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let is_list = !map.is_empty() && (0..map.len()).all(|i| map.contains_key(&i.to_string()));
            if is_list {
                let mut map = map;
                Value::Array(
                    (0..map.len()).map(|i| normalize(map.remove(&i.to_string()).unwrap_or(Value::Null))).collect(),
                )
            } else {
                Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// Parses a form body or query string with PHP's bracket conventions.
pub fn parse_form(raw: &str) -> Result<Value, ApiError> {
    let mut root = Map::new();
    for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let malformed =
            || ApiError::new(Code::MalformedRequest, "Malformed request: parameters must be UTF-8 encoded.");
        let key = decode_component(key).ok_or_else(malformed)?;
        let value = decode_component(value).ok_or_else(malformed)?;
        if key.is_empty() {
            continue;
        }
        insert(&mut root, &key_path(&key)?, value);
    }
    Ok(normalize(Value::Object(root)))
}

/// Request body parameters (JSON or form).
pub struct Body(pub Fields);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type =
            req.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            ApiError::new(Code::RequestTooLarge, format!("The request body could not be read: {rejection}."))
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Body(Fields(Value::Object(Map::new()))));
        }
        let value = if content_type.starts_with("application/json") || content_type.ends_with("+json") {
            serde_json::from_slice::<Value>(&bytes)
                .map_err(|error| ApiError::new(Code::MalformedRequest, format!("Malformed JSON body: {error}.")))?
        } else if content_type.is_empty() || content_type.starts_with("application/x-www-form-urlencoded") {
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::new(Code::MalformedRequest, "Malformed request: the body is not UTF-8."))?;
            parse_form(text)?
        } else {
            return Err(ApiError::new(
                Code::MalformedRequest,
                format!("Unsupported Content-Type \"{content_type}\": send application/json or application/x-www-form-urlencoded."),
            ));
        };
        if !value.is_object() {
            return Err(ApiError::new(Code::MalformedRequest, "The request body must be a JSON object."));
        }
        nesting::check_parameters(&value)?;
        Ok(Body(Fields(value)))
    }
}

/// Query string parameters.
pub struct Query(pub Fields);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Query(Fields(parse_form(parts.uri.query().unwrap_or(""))?)))
    }
}

/// A request body in the shape of `T`, from JSON or a form.
pub struct Input<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Input<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Body(fields) = Body::from_request(req, state).await?;
        fields.decode().map(Input)
    }
}

/// Query parameters in the shape of `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(fields) = Query::from_request_parts(parts, state).await?;
        fields.decode().map(Params)
    }
}

/// `limit` and `offset` of a list route; their ranges are checked by [`Paging`].
#[derive(serde::Deserialize, utoipa::IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many items to answer.
    #[serde(default, deserialize_with = "lenient::int")]
    pub limit: Option<i64>,
    /// How many items to skip.
    #[serde(default, deserialize_with = "lenient::int")]
    pub offset: Option<i64>,
}

impl Page {
    /// The page asked for of a list that is read whole.
    pub fn of<T>(&self, items: Vec<T>) -> Result<Vec<T>, ApiError> {
        Ok(self.paging().window(items)?)
    }

    pub fn paging(&self) -> Paging {
        Paging { limit: self.limit, offset: self.offset }
    }
}

/// Readers for fields of typed request shapes (`#[serde(default, deserialize_with = "lenient::flag")]`)
/// that accept what Keboola's clients send: numbers and booleans as text, booleans as `1/0`, lists as
/// comma-separated text. A value they refuse says what was expected and what came; [`Fields::decode`]
/// names the parameter.
pub mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};
    use stowage_types::nesting::{self, MAX_NESTING};

    fn shown(got: &Value) -> String {
        match got {
            Value::String(text) => format!("\"{}\"", text.chars().take(100).collect::<String>()),
            other => other.to_string().chars().take(100).collect(),
        }
    }

    fn invalid(expected: &str, got: &Value) -> String {
        format!("must be {expected}, {} given", shown(got))
    }

    /// A string; numbers and booleans are accepted in their text form.
    pub fn read_text(value: &Value) -> Result<Option<String>, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => Ok(Some(text.clone())),
            Value::Number(number) => Ok(Some(number.to_string())),
            Value::Bool(flag) => Ok(Some(flag.to_string())),
            other => Err(invalid("a string", other)),
        }
    }

    /// A boolean: `1/0`, `true/false` in any case, or JSON booleans. An empty string is false.
    pub fn read_flag(value: &Value) -> Result<Option<bool>, String> {
        let expected = "a boolean (1/0 or true/false)";
        match value {
            Value::Null => Ok(None),
            Value::Bool(flag) => Ok(Some(*flag)),
            Value::Number(number) if number.as_i64() == Some(1) => Ok(Some(true)),
            Value::Number(number) if number.as_i64() == Some(0) => Ok(Some(false)),
            Value::String(text) => match text.to_ascii_lowercase().as_str() {
                "1" | "true" => Ok(Some(true)),
                "0" | "false" | "" => Ok(Some(false)),
                _ => Err(invalid(expected, value)),
            },
            other => Err(invalid(expected, other)),
        }
    }

    /// An integer, from a JSON number or its text; empty text is none.
    pub fn read_int(value: &Value) -> Result<Option<i64>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Number(number) => number.as_i64().map(Some).ok_or_else(|| invalid("an integer", value)),
            Value::String(text) if text.is_empty() => Ok(None),
            Value::String(text) => text.trim().parse().map(Some).map_err(|_| invalid("an integer", value)),
            other => Err(invalid("an integer", other)),
        }
    }

    /// A number, from JSON or text; empty text is none.
    pub fn read_number(value: &Value) -> Result<Option<f64>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Number(number) => Ok(number.as_f64()),
            Value::String(text) if text.is_empty() => Ok(None),
            Value::String(text) => text.trim().parse().map(Some).map_err(|_| invalid("a number", value)),
            other => Err(invalid("a number", other)),
        }
    }

    /// A JSON object; in form data it may arrive as bracketed keys or as a JSON-encoded string. An
    /// empty array (PHP's empty map) is an empty object; empty text is none.
    pub fn read_object(value: &Value) -> Result<Option<Value>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Object(map) => Ok(Some(Value::Object(map.clone()))),
            Value::Array(items) if items.is_empty() => Ok(Some(Value::Object(Map::new()))),
            Value::String(text) if text.is_empty() => Ok(None),
            Value::String(text) => match serde_json::from_str::<Value>(text) {
                Ok(object) if object.is_object() && nesting::depth(&object) <= MAX_NESTING => Ok(Some(object)),
                Ok(object) if object.is_object() => Err(format!("must nest at most {MAX_NESTING} levels deep")),
                Err(error) if error.to_string().starts_with("recursion limit exceeded") => {
                    Err(format!("must nest at most {MAX_NESTING} levels deep"))
                }
                _ => Err(invalid("an object", value)),
            },
            other => Err(invalid("an object", other)),
        }
    }

    /// A list: a JSON array, `x[]=`/`x[0]=` form arrays, or a comma-separated string.
    pub fn read_list(value: &Value) -> Result<Option<Vec<String>>, String> {
        let item = |item: &Value| match item {
            Value::String(text) => Ok(text.clone()),
            Value::Number(number) => Ok(number.to_string()),
            other => Err(invalid("a list of strings", other)),
        };
        match value {
            Value::Null => Ok(None),
            Value::Array(items) => items.iter().map(item).collect::<Result<_, _>>().map(Some),
            Value::String(text) if text.is_empty() => Ok(Some(vec![])),
            Value::String(text) => Ok(Some(text.split(',').map(|part| part.trim().to_string()).collect())),
            other => Err(invalid("a list of strings", other)),
        }
    }

    fn with<'de, D: Deserializer<'de>, T>(
        deserializer: D,
        read: fn(&Value) -> Result<Option<T>, String>,
    ) -> Result<Option<T>, D::Error> {
        read(&Value::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }

    pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        with(deserializer, read_text)
    }

    pub fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
        with(deserializer, read_flag)
    }

    pub fn int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        with(deserializer, read_int)
    }

    pub fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
        with(deserializer, read_number)
    }

    pub fn object<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
        with(deserializer, read_object)
    }

    pub fn list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Vec<String>>, D::Error> {
        with(deserializer, read_list)
    }
}

/// Request parameters as one JSON value, read by name (the console's forms) or as a typed shape.
pub struct Fields(pub Value);

impl Fields {
    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    fn read<T>(&self, name: &str, read: fn(&Value) -> Result<Option<T>, String>) -> Result<Option<T>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => read(value).map_err(|message| parameter_error(name, &message)),
        }
    }

    /// The parameters as a typed shape; a field that does not fit is a 400 naming it.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_path_to_error::deserialize(&self.0).map_err(|error| {
            let path = error.path().to_string();
            parameter_error(&path, &error.into_inner().to_string())
        })
    }

    /// True when the parameter was sent at all.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// See [`lenient::read_text`].
    pub fn string(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.read(name, lenient::read_text)
    }

    /// See [`lenient::read_flag`].
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.read(name, lenient::read_flag)
    }

    /// See [`lenient::read_int`].
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.read(name, lenient::read_int)
    }

    /// See [`lenient::read_number`].
    pub fn float(&self, name: &str) -> Result<Option<f64>, ApiError> {
        self.read(name, lenient::read_number)
    }

    /// See [`lenient::read_object`].
    pub fn object(&self, name: &str) -> Result<Option<Value>, ApiError> {
        self.read(name, lenient::read_object)
    }

    /// See [`lenient::read_list`].
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ApiError> {
        self.read(name, lenient::read_list)
    }

    /// `limit` and `offset` of a list route; their ranges are checked by [`Paging`].
    pub fn paging(&self) -> Result<Paging, ApiError> {
        Ok(Paging { limit: self.int("limit")?, offset: self.int("offset")? })
    }

    /// The page `limit` and `offset` ask for of a list that is read whole.
    pub fn page_of<T>(&self, items: Vec<T>) -> Result<Vec<T>, ApiError> {
        Ok(self.paging()?.window(items)?)
    }

    /// The raw value.
    pub fn raw(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// `Parameter "name" must be ..., ... given.`, or for what serde itself refuses, `... is invalid: ...`.
pub(crate) fn parameter_error(name: &str, message: &str) -> ApiError {
    let message = if message.starts_with("must be") {
        format!("Parameter \"{name}\" {message}.")
    } else {
        format!("Parameter \"{name}\" is invalid: {message}.")
    };
    ApiError::new(Code::Validation, message)
}

/// The block ids of an Azure `<BlockList>` body, in order (`Latest`, `Committed` and `Uncommitted`
/// alike); none when the body is anything else (another element, text between the blocks, a second
/// list, XML that does not parse).
pub fn block_list(xml: &str) -> Option<Vec<String>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().trim_text(true);
    let (mut ids, mut lists, mut depth, mut block) = (Vec::new(), 0, 0, None::<String>);
    loop {
        match reader.read_event().ok()? {
            Event::Decl(_) | Event::Comment(_) => {}
            Event::Start(element) => match (depth, element.name().as_ref()) {
                (0, b"BlockList") if lists == 0 => (lists, depth) = (1, 1),
                (1, b"Latest" | b"Committed" | b"Uncommitted") => (block, depth) = (Some(String::new()), 2),
                _ => return None,
            },
            Event::Empty(element) => match (depth, element.name().as_ref()) {
                (0, b"BlockList") if lists == 0 => lists = 1,
                _ => return None,
            },
            Event::Text(text) if depth == 2 => block.as_mut()?.push_str(&text.decode().ok()?),
            Event::End(_) if depth == 2 => {
                ids.push(block.take()?);
                depth = 1;
            }
            Event::End(_) if depth == 1 => depth = 0,
            Event::Eof if lists == 1 && depth == 0 => return Some(ids),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_style_arrays_become_json_arrays() {
        assert_eq!(parse_form("tags%5B%5D=a&tags%5B%5D=b").unwrap(), json!({"tags": ["a", "b"]}));
    }

    #[test]
    fn php_indexed_arrays_become_json_arrays() {
        assert_eq!(
            parse_form("whereFilters[0][column]=a&whereFilters[0][values][]=1&tags[0]=x&tags[1]=y").unwrap(),
            json!({"whereFilters": [{"column": "a", "values": ["1"]}], "tags": ["x", "y"]})
        );
    }

    #[test]
    fn bracketed_keys_with_dots_become_object_keys() {
        assert_eq!(
            parse_form("bucketPermissions[in.c-main]=read&description=a+b%21").unwrap(),
            json!({"bucketPermissions": {"in.c-main": "read"}, "description": "a b!"})
        );
    }

    #[test]
    fn invalid_utf8_in_a_form_is_a_malformed_request() {
        let error = parse_form("message=%C3%28").unwrap_err();
        assert_eq!(error.0.code, Code::MalformedRequest);
    }

    #[test]
    fn booleans_accept_every_spelling_clients_use() {
        let fields = Fields(json!({"a": "1", "b": "True", "c": "false", "d": true, "e": "yes"}));
        assert_eq!(fields.bool("a").unwrap(), Some(true));
        assert_eq!(fields.bool("b").unwrap(), Some(true));
        assert_eq!(fields.bool("c").unwrap(), Some(false));
        assert_eq!(fields.bool("d").unwrap(), Some(true));
        let error = fields.bool("e").unwrap_err();
        assert_eq!(error.0.message, "Parameter \"e\" must be a boolean (1/0 or true/false), \"yes\" given.");
    }

    #[test]
    fn a_truncated_percent_escape_is_kept_literally() {
        assert_eq!(parse_form("a=100%").unwrap(), json!({"a": "100%"}));
        assert_eq!(parse_form("a=%4").unwrap(), json!({"a": "%4"}));
    }

    #[test]
    fn block_lists_keep_their_order_whatever_the_element_kind() {
        let xml = "<?xml version='1.0' encoding='utf-8'?>\n<BlockList><Latest>QUE=</Latest><Committed>QkI=</Committed>\
                   <Uncommitted>Q0M=</Uncommitted></BlockList>";
        assert_eq!(block_list(xml).unwrap(), vec!["QUE=", "QkI=", "Q0M="]);
    }

    #[test]
    fn a_block_list_with_an_unknown_element_is_rejected() {
        assert!(block_list("<BlockList><Other>x</Other></BlockList>").is_none());
        assert!(block_list("no xml").is_none());
        assert!(block_list("<BlockList><Latest>QUE=</Latest>").is_none(), "unclosed");
        assert!(block_list("<BlockList><Latest>QUE=</Latest></BlockList><BlockList/>").is_none(), "two lists");
        assert!(block_list("<BlockList>stray<Latest>QUE=</Latest></BlockList>").is_none(), "text between blocks");
        assert!(block_list("<BlockList><Latest><Latest>x</Latest></Latest></BlockList>").is_none(), "nested");
        assert!(block_list("").is_none());
    }

    #[test]
    fn an_empty_block_list_commits_no_blocks() {
        assert_eq!(block_list("<BlockList/>").unwrap(), Vec::<String>::new());
        assert_eq!(block_list("<BlockList>\n</BlockList>").unwrap(), Vec::<String>::new());
    }
}
