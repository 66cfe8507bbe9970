//! The sealing of `#` values: encrypted with the stack key, bound to the project, component,
//! configuration and the `url` beside them (see the module above).

use serde_json::{Map, Value};
use stowage_types::{Code, Error, Result};

use crate::Core;

/// The prefix of a sealed value.
pub const SEALED_PREFIX: &str = "KBC::ConfigSecure::";
/// The prefix of values sealed before they were bound to their configuration: still opened in
/// the configuration that holds them, never accepted from a client for another.
const LEGACY_PREFIX: &str = "KBC::ProjectSecure::";

/// Where a sealed value belongs: a configuration (its rows share it).
#[derive(Debug, Clone)]
pub struct Scope {
    pub project_id: i64,
    pub component_id: String,
    pub config_id: String,
}

impl Scope {
    pub fn new(project_id: i64, component_id: &str, config_id: &str) -> Self {
        Scope { project_id, component_id: component_id.to_string(), config_id: config_id.to_string() }
    }

    /// What a value sealed here beside `url` is bound to (the associated data of its encryption).
    fn context(&self, url: &str) -> String {
        format!("project:{}/component:{}/config:{}/url:{url}", self.project_id, self.component_id, self.config_id)
    }

    /// What a value sealed before configurations were bound was bound to.
    fn legacy_context(&self) -> String {
        format!("project:{}/component:{}", self.project_id, self.component_id)
    }
}

/// Who a configuration's sealed values come from, for [`unseal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the catalog: the configuration's own values, old ones included.
    Stored,
    /// Sent by a client (a sync action's `configData`).
    Client,
}

fn foreign(key: &str) -> Error {
    Error::new(
        Code::ConfigurationValidation,
        format!(
            "The value of \"{key}\" was encrypted for another configuration or address, or is damaged: give it in plain text."
        ),
    )
}

/// The `url` beside `#` values in an object ("" when there is none).
fn url_of(map: &Map<String, Value>) -> &str {
    map.get("url").and_then(Value::as_str).unwrap_or("")
}

/// Seals every plain string under a `#` key for `scope`. `stored` is what the same place holds
/// now (none for something new): a sealed value sent back keeps its place only where it opens
/// beside the `url` sent with it; the configuration's own value sent back beside a changed `url`
/// is dropped (the secret was given for the old address); any other sealed value is refused.
pub fn seal(core: &Core, scope: &Scope, value: Value, stored: Option<&Value>) -> Result<Value> {
    match value {
        Value::Object(map) => {
            let url = url_of(&map).to_string();
            let stored_map = stored.and_then(Value::as_object);
            let stored_url = stored_map.map(url_of);
            let mut out = Map::new();
            for (key, child) in map {
                let kept = stored_map.and_then(|stored| stored.get(&key));
                let child = match child {
                    Value::String(text) if key.starts_with('#') => {
                        let kept = kept.and_then(Value::as_str);
                        match seal_text(core, scope, (&key, text), &url, (kept, stored_url))? {
                            Some(sealed) => Value::String(sealed),
                            None => continue,
                        }
                    }
                    other => seal(core, scope, other, kept)?,
                };
                out.insert(key, child);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| seal(core, scope, item, stored.and_then(|stored| stored.get(index))))
            .collect::<Result<_>>()
            .map(Value::Array),
        other => Ok(other),
    }
}

/// What [`seal`] stores for the text under `#key` beside `url`; `None` drops it. `kept` is the
/// text the same place holds now, beside `kept_url`.
fn seal_text(
    core: &Core,
    scope: &Scope,
    (key, text): (&str, String),
    url: &str,
    (kept, kept_url): (Option<&str>, Option<&str>),
) -> Result<Option<String>> {
    let ours = kept == Some(text.as_str());
    if let Some(sealed) = text.strip_prefix(SEALED_PREFIX) {
        if core.key.decrypt_bound(sealed, &scope.context(url)).is_ok() {
            return Ok(Some(text));
        }
        return if ours { Ok(None) } else { Err(foreign(key)) };
    }
    if let Some(sealed) = text.strip_prefix(LEGACY_PREFIX) {
        if !ours {
            return Err(foreign(key));
        }
        if kept_url != Some(url) {
            return Ok(None);
        }
        let plain = core.key.decrypt_bound(sealed, &scope.legacy_context()).map_err(|_| foreign(key))?;
        return Ok(Some(format!("{SEALED_PREFIX}{}", core.key.encrypt_bound(&plain, &scope.context(url))?)));
    }
    if text.starts_with("KBC::") {
        return Err(foreign(key));
    }
    Ok(Some(format!("{SEALED_PREFIX}{}", core.key.encrypt_bound(&text, &scope.context(url))?)))
}

/// Decrypts every sealed string under a `#` key of `scope` (each beside the `url` it was sealed
/// with); for running jobs and sync actions only. Values sealed before configurations were bound
/// open only from the catalog ([`Origin::Stored`]).
pub fn unseal(core: &Core, scope: &Scope, value: Value, origin: Origin) -> Result<Value> {
    let refused = |key: &str| {
        Error::new(
            Code::ConfigurationValidation,
            format!(
                "The value of \"{key}\" cannot be decrypted here: it belongs to another configuration or address, or is damaged."
            ),
        )
    };
    match value {
        Value::Object(map) => {
            let context = scope.context(url_of(&map));
            let mut out = Map::new();
            for (key, child) in map {
                let child = match child {
                    Value::String(text) if key.starts_with('#') => {
                        if let Some(sealed) = text.strip_prefix(SEALED_PREFIX) {
                            Value::String(core.key.decrypt_bound(sealed, &context).map_err(|_| refused(&key))?)
                        } else if let Some(sealed) = text.strip_prefix(LEGACY_PREFIX) {
                            if origin == Origin::Client {
                                return Err(refused(&key));
                            }
                            let plain = core.key.decrypt_bound(sealed, &scope.legacy_context());
                            Value::String(plain.map_err(|_| refused(&key))?)
                        } else {
                            Value::String(text)
                        }
                    }
                    other => unseal(core, scope, other, origin)?,
                };
                out.insert(key, child);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            items.into_iter().map(|item| unseal(core, scope, item, origin)).collect::<Result<_>>().map(Value::Array)
        }
        other => Ok(other),
    }
}

/// A configuration's sealed values opened in `from` and sealed again for `to` (a copy into
/// another configuration, or a row version brought back): the values are the stack's own, read
/// from the catalog.
pub fn reseal(core: &Core, from: &Scope, to: &Scope, value: Value) -> Result<Value> {
    let plain = unseal(core, from, value, Origin::Stored)?;
    seal(core, to, plain, None)
}

/// Sealed values use a fresh nonce each time, so compare configurations with them masked.
pub(super) fn same_sealed(a: &Value, b: &Value) -> bool {
    fn mask(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
            Value::Array(items) => Value::Array(items.iter().map(mask).collect()),
            Value::String(text) if text.starts_with("KBC::") => Value::String("KBC::".into()),
            other => other.clone(),
        }
    }
    mask(a) == mask(b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sealed_comparison_ignores_the_nonce() {
        let a = json!({"#token": "KBC::ConfigSecure::v1:aaa", "url": "x"});
        let b = json!({"#token": "KBC::ConfigSecure::v1:bbb", "url": "x"});
        assert!(same_sealed(&a, &b));
        assert!(!same_sealed(&a, &json!({"#token": "KBC::ConfigSecure::v1:aaa", "url": "y"})));
    }

    /// A value as configurations were sealed before they were bound to one (and to a URL).
    fn legacy(core: &Core, scope: &Scope, plain: &str) -> String {
        format!("{LEGACY_PREFIX}{}", core.key.encrypt_bound(plain, &scope.legacy_context()).unwrap())
    }

    #[test]
    fn a_value_sealed_before_binding_opens_only_in_its_own_configuration_and_is_bound_when_sent_back() {
        let dir = tempfile::tempdir().unwrap();
        let core = crate::testing::core(dir.path());
        let (own, other) = (Scope::new(1, "keboola.wr-storage", "10"), Scope::new(1, "keboola.wr-storage", "11"));
        let stored = json!({"parameters": {"url": "https://a", "#token": legacy(&core, &own, "secret")}});
        // A job opens it from the catalog; a client may not hand it in.
        let opened = unseal(&core, &own, stored.clone(), Origin::Stored).unwrap();
        assert_eq!(opened["parameters"]["#token"], "secret");
        assert!(unseal(&core, &own, stored.clone(), Origin::Client).is_err());
        // Sent back unchanged, it is sealed again, bound to the configuration and its URL.
        let resealed = seal(&core, &own, stored.clone(), Some(&stored)).unwrap();
        let token = resealed["parameters"]["#token"].as_str().unwrap();
        assert!(token.starts_with(SEALED_PREFIX), "{token}");
        assert_eq!(unseal(&core, &own, resealed.clone(), Origin::Client).unwrap()["parameters"]["#token"], "secret");
        // Sent back beside another URL, it is dropped; given to another configuration, refused.
        let moved = json!({"parameters": {"url": "https://evil", "#token": stored["parameters"]["#token"]}});
        let dropped = seal(&core, &own, moved, Some(&stored)).unwrap();
        assert!(dropped["parameters"].get("#token").is_none(), "{dropped}");
        let error = seal(&core, &other, stored, None).unwrap_err();
        assert_eq!(error.code, Code::ConfigurationValidation);
        // Copied (server-side), a value opens in the copy and no longer in the source's place.
        let copied = reseal(&core, &own, &other, resealed).unwrap();
        assert_eq!(unseal(&core, &other, copied.clone(), Origin::Client).unwrap()["parameters"]["#token"], "secret");
        assert!(unseal(&core, &own, copied, Origin::Client).is_err());
    }
}
