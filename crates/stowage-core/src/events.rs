//! Events: recording them with each operation, listing them with filters and the `q` search,
//! and creating external events through the API.

use serde_json::{json, Value};
use std::sync::Arc;
use stowage_store::Writer;

use stowage_types::auth::{AnyToken, Granted, ReadBucket, ReadTable, ReadToken, Token};
use stowage_types::event::{Event, EventField, EventFilter, NewEvent};
use stowage_types::time;
use stowage_types::{Code, Error, Paging, Result};

use crate::Ctx;

/// Largest listing page.
pub const MAX_LIMIT: i64 = 10_000;
/// Largest external event, in bytes of its JSON form.
pub const MAX_EVENT_BYTES: usize = 200 * 1024;
/// Events older than this are pruned.
pub const RETENTION_SECS: i64 = 183 * 24 * 3600;

/// What an operation says about itself; [`record`] fills in project, branch, token and context.
pub struct Happened<'a> {
    pub event: &'a str,
    pub message: String,
    pub object: Option<(&'a str, String, String)>,
    pub params: Value,
}

impl<'a> Happened<'a> {
    /// An event about an object: (type, id, name).
    pub fn about(event: &'a str, object_type: &'a str, object_id: &str, message: String) -> Self {
        Happened {
            event,
            message,
            object: Some((object_type, object_id.to_string(), object_id.to_string())),
            params: json!({}),
        }
    }

    /// Adds params.
    pub fn with_params(mut self, params: Value) -> Self {
        self.params = params;
        self
    }
}

/// The event context of a request.
fn context(ctx: &Ctx) -> Value {
    json!({
        "remoteAddr": ctx.remote_addr,
        "httpReferer": null,
        "httpUserAgent": ctx.user_agent,
        "apiVersion": "2",
        "userAgent": ctx.user_agent,
        "async": false,
    })
}

/// Records an event made by `token` (or by the stack itself when `None`) in project `project_id`,
/// inside the caller's transaction.
pub fn record(w: &Writer<'_>, ctx: &Ctx, project_id: i64, token: Option<&Token>, happened: Happened<'_>) -> Result<()> {
    insert(w, new_event(ctx, project_id, token, happened))
}

/// Records the event of a request that changes nothing (a listing, a detail): it joins the next
/// group commit of [`ReadEvents`] instead of a write transaction of its own, and returns once it
/// is stored, so a client that asks for the feed right after the call finds it there.
pub async fn record_read(ctx: &Ctx, project_id: i64, token: &Token, happened: Happened<'_>) -> Result<()> {
    ctx.core.read_events.record(new_event(ctx, project_id, Some(token), happened)).await
}

/// Stores an event in its project's default branch.
fn insert(w: &Writer<'_>, mut event: NewEvent) -> Result<()> {
    event.branch_id = w.default_branch(event.project_id)?.id;
    w.insert_event(&event, &uuid::Uuid::now_v7().to_string(), time::now())?;
    Ok(())
}

/// Events waiting for the next group commit, each with whom to tell the outcome.
type Waiting = (NewEvent, tokio::sync::oneshot::Sender<std::result::Result<(), String>>);

/// Most events in one group commit.
const MAX_GROUP: usize = 256;

/// The writer of read requests' events. Reads used to record their event in a write transaction
/// each, so concurrent readers queued behind one another's commits; here one thread takes every
/// event that waits and stores them all in one transaction, and each request waits only for the
/// commit its event is in.
#[derive(Clone)]
pub struct ReadEvents {
    queue: tokio::sync::mpsc::UnboundedSender<Waiting>,
}

impl ReadEvents {
    /// Starts the writer thread; it ends when the last handle is dropped.
    pub fn start(store: &stowage_store::Store) -> Result<Self> {
        let mut writer = store.dedicated_writer()?;
        let (queue, mut waiting) = tokio::sync::mpsc::unbounded_channel::<Waiting>();
        std::thread::Builder::new()
            .name("read-events".into())
            .spawn(move || {
                while let Some(first) = waiting.blocking_recv() {
                    let mut group = vec![first];
                    while group.len() < MAX_GROUP {
                        match waiting.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    let (events, tell): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                    // One failed insert (its project deleted meanwhile) fails only its own request.
                    let outcomes = writer
                        .write(|w| {
                            Ok(events.into_iter().map(|event| insert(w, event).map_err(|e| e.to_string())).collect())
                        })
                        .unwrap_or_else(|error: Error| vec![Err(error.to_string()); tell.len()]);
                    for (tell, outcome) in tell.into_iter().zip(outcomes) {
                        let _ = tell.send(outcome);
                    }
                }
            })
            .map_err(Error::internal)?;
        Ok(ReadEvents { queue })
    }

    async fn record(&self, event: NewEvent) -> Result<()> {
        let stopped = || Error::internal("the writer of read events stopped");
        let (tell, outcome) = tokio::sync::oneshot::channel();
        self.queue.send((event, tell)).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?.map_err(Error::internal)
    }
}

/// The stored form of what happened: `branch_id` is filled in by [`insert`].
fn new_event(ctx: &Ctx, project_id: i64, token: Option<&Token>, happened: Happened<'_>) -> NewEvent {
    let (object_type, object_id, object_name) = match happened.object {
        Some((kind, id, name)) => (Some(kind.to_string()), Some(id), Some(name)),
        None => (None, None, None),
    };
    NewEvent {
        project_id,
        branch_id: 0,
        event: happened.event.to_string(),
        component: "storage".into(),
        message: happened.message,
        description: String::new(),
        kind: "info".into(),
        run_id: ctx.run_id.clone(),
        configuration_id: None,
        object_type,
        object_id,
        object_name,
        params: happened.params,
        results: json!({}),
        performance: json!({}),
        context: context(ctx),
        token_id: token.map(|token| token.id),
        token_name: token.map(|token| token.description.clone()),
    }
}

/// Listing parameters as the API takes them (already parsed from strings).
#[derive(Debug, Default, Clone)]
pub struct ListParams {
    pub since_id: Option<String>,
    pub max_id: Option<String>,
    pub component: Option<String>,
    pub configuration_id: Option<String>,
    pub run_id: Option<String>,
    pub q: Option<String>,
    pub paging: Paging,
    pub sort_order: Option<String>,
}

/// Which feed to list.
enum Feed {
    /// All events of the project the token may see.
    Project,
    /// Events about one object: (type, id).
    Object(&'static str, String),
    /// Events about a token or made by it.
    Token(i64),
}

/// Parses the supported subset of the Elasticsearch query syntax: terms joined by ` AND `, each
/// `field:value` (value optionally in double quotes) or a bare word searched in message and name.
pub fn parse_query(q: &str, filter: &mut EventFilter) -> Result<()> {
    let fail = || Error::new(Code::EventQueryInvalid, format!("Failed to parse query \"{q}\"."));
    let q = q.trim();
    if q.is_empty() {
        return Ok(());
    }
    for term in q.split(" AND ") {
        let term = term.trim();
        if term.is_empty() {
            return Err(fail());
        }
        if let Some((field, value)) = term.split_once(':') {
            let field = EventField::parse(field).ok_or_else(fail)?;
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(quoted) => quoted,
                None => value,
            };
            if value.is_empty() || !value.chars().all(|c| c.is_alphanumeric() || "-_.@".contains(c)) {
                return Err(fail());
            }
            filter.fields.push((field, value.to_string()));
        } else if term.chars().all(|c| c.is_alphanumeric() || "-_.".contains(c)) {
            filter.words.push(term.to_string());
        } else {
            return Err(fail());
        }
    }
    Ok(())
}

/// Lists the project's events the token may see.
pub async fn list(ctx: &Ctx, grant: &Granted<AnyToken>, params: ListParams) -> Result<Vec<Event>> {
    list_feed(ctx, grant.token(), Feed::Project, params).await
}

/// Lists events about a bucket.
pub async fn list_bucket(ctx: &Ctx, grant: &Granted<ReadBucket>, params: ListParams) -> Result<Vec<Event>> {
    let project_id = grant.project_id();
    let bucket_id = grant.scope().0.to_string();
    let exists = {
        let bucket_id = bucket_id.clone();
        ctx.core.store.read(move |r| r.bucket(project_id, &bucket_id)).await?.is_some()
    };
    if !exists {
        return Err(Error::new(
            Code::BucketNotFound,
            format!("The bucket \"{bucket_id}\" was not found in the project \"{project_id}\""),
        ));
    }
    list_feed(ctx, grant.token(), Feed::Object("bucket", bucket_id), params).await
}

/// Lists events about a table (the token needs read access to its bucket).
pub async fn list_table(ctx: &Ctx, grant: &Granted<ReadTable>, params: ListParams) -> Result<Vec<Event>> {
    let project_id = grant.project_id();
    let table_id = grant.table_id().to_string();
    let exists = {
        let table_id = table_id.clone();
        ctx.core.store.read(move |r| r.table(project_id, &table_id)).await?.is_some()
    };
    if !exists {
        return Err(Error::new(
            Code::TableNotFound,
            format!("The table \"{table_id}\" was not found in the project \"{project_id}\""),
        ));
    }
    list_feed(ctx, grant.token(), Feed::Object("table", table_id), params).await
}

/// Lists a token's feed: events about the token and events it made.
pub async fn list_token(ctx: &Ctx, grant: &Granted<ReadToken>, params: ListParams) -> Result<Vec<Event>> {
    let project_id = grant.project_id();
    let token_id = grant.scope().0;
    let exists = ctx.core.store.read(move |r| r.token(project_id, token_id)).await?.is_some();
    if !exists {
        return Err(Error::new(Code::TokenNotFound, format!("Token with id \"{token_id}\" was not found.")));
    }
    list_feed(ctx, grant.token(), Feed::Token(token_id), params).await
}

async fn list_feed(ctx: &Ctx, token: &Arc<Token>, feed: Feed, params: ListParams) -> Result<Vec<Event>> {
    let token = token.clone();
    let (limit, offset) = params.paging.bounds(100, MAX_LIMIT)?;
    let ascending = match params.sort_order.as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => {
            return Err(Error::validation(format!(
                "Parameter \"sortOrder\" must be \"asc\" or \"desc\", \"{other}\" given."
            )))
        }
    };
    let mut filter = EventFilter {
        project_id: token.project_id,
        component: params.component,
        configuration_id: params.configuration_id,
        run_id: params.run_id,
        limit,
        offset,
        ascending,
        ..EventFilter::default()
    };
    if let Some(q) = &params.q {
        parse_query(q, &mut filter)?;
    }
    match feed {
        Feed::Project => {}
        Feed::Object(kind, id) => filter.about_object = Some((kind.to_string(), id)),
        Feed::Token(id) => filter.token_feed = Some(id),
    }
    // A token that may not see all events sees its own; its own feed already is that.
    if !token.sees_all_events() && !feed_is_own(&filter, &token) {
        filter.made_by_token = Some(token.id);
    }
    ctx.core
        .store
        .read(move |r| {
            filter.branch_id = Some(r.default_branch(filter.project_id)?.id);
            let resolve = |value: Option<String>, name: &str| -> Result<Option<i64>> {
                match value {
                    None => Ok(None),
                    Some(value) => match value.parse::<i64>() {
                        Ok(id) => Ok(Some(id)),
                        // A uuid that names no event of the project matches nothing after or before it.
                        Err(_) => r.event_id(filter.project_id, &value)?.map(Some).ok_or_else(|| {
                            Error::new(
                                Code::EventNotFound,
                                format!("Event \"{value}\" given as \"{name}\" was not found."),
                            )
                        }),
                    },
                }
            };
            filter.since_id = resolve(params.since_id, "sinceId")?;
            filter.max_id = resolve(params.max_id, "maxId")?;
            r.events(&filter)
        })
        .await
}

/// True when the listing is the token's own feed, which includes events about it made by others
/// (such as its creation).
fn feed_is_own(filter: &EventFilter, token: &Token) -> bool {
    filter.token_feed == Some(token.id)
}

/// One event by id or uuid, if the token may see it.
pub async fn get(ctx: &Ctx, grant: &Granted<AnyToken>, id: String) -> Result<Event> {
    let token = grant.token().clone();
    let event = ctx.core.store.read(move |r| r.event(token.project_id, &id)).await?;
    event
        .filter(|event| grant.token().sees_all_events() || event.data.token_id == Some(grant.token().id))
        .ok_or_else(|| Error::new(Code::EventNotFound, "Event not found"))
}

/// An external event posted through the API.
#[derive(Debug, Default)]
pub struct ExternalEvent {
    pub component: Option<String>,
    pub message: Option<String>,
    pub description: Option<String>,
    pub kind: Option<String>,
    pub configuration_id: Option<String>,
    pub run_id: Option<String>,
    pub params: Option<Value>,
    pub results: Option<Value>,
    pub duration: Option<f64>,
}

/// Records an external event (`ext.<component>.<configurationId>`); returns (id, uuid).
pub async fn create(ctx: &Ctx, grant: &Granted<AnyToken>, input: ExternalEvent) -> Result<(i64, String)> {
    let component = input.component.filter(|c| !c.is_empty()).ok_or_else(|| {
        Error::new(Code::EventValidation, "Invalid data - component: This value should not be blank.")
    })?;
    let message = input
        .message
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Error::new(Code::EventValidation, "Invalid data - message: This value should not be blank."))?;
    let kind = input.kind.unwrap_or_else(|| "info".into());
    if !["info", "success", "warn", "error"].contains(&kind.as_str()) {
        return Err(Error::new(
            Code::EventValidation,
            format!("Invalid data - type: \"{kind}\" is not one of info, success, warn, error."),
        ));
    }
    let object = |value: Option<Value>, name: &str| -> Result<Value> {
        match value {
            None | Some(Value::Null) => Ok(json!({})),
            Some(Value::Object(map)) => Ok(Value::Object(map)),
            Some(Value::Array(items)) if items.is_empty() => Ok(json!({})),
            Some(_) => Err(Error::new(
                Code::EventValidation,
                format!("Invalid data - {name}: This value should be an object."),
            )),
        }
    };
    let token = grant.token().clone();
    let configuration_id = input.configuration_id.unwrap_or_default();
    let event = NewEvent {
        project_id: token.project_id,
        branch_id: 0,
        event: format!("ext.{component}.{configuration_id}"),
        component,
        message,
        description: input.description.unwrap_or_default(),
        kind,
        run_id: input.run_id.or_else(|| ctx.run_id.clone()),
        configuration_id: (!configuration_id.is_empty()).then_some(configuration_id),
        object_type: None,
        object_id: None,
        object_name: None,
        params: object(input.params, "params")?,
        results: object(input.results, "results")?,
        performance: match input.duration {
            Some(duration) => json!({ "duration": duration }),
            None => json!({}),
        },
        context: context(ctx),
        token_id: Some(token.id),
        token_name: Some(token.description.clone()),
    };
    let size = serde_json::to_vec(&event.params).map(|v| v.len()).unwrap_or(0)
        + serde_json::to_vec(&event.results).map(|v| v.len()).unwrap_or(0)
        + event.message.len()
        + event.description.len();
    if size > MAX_EVENT_BYTES {
        return Err(Error::new(
            Code::RequestTooLarge,
            format!("The event is too large: {size} bytes, at most {MAX_EVENT_BYTES} bytes are allowed."),
        ));
    }
    ctx.core.event_allowance.take(event.project_id, size)?;
    ctx.core
        .store
        .write(move |w| {
            let mut event = event;
            event.branch_id = w.default_branch(event.project_id)?.id;
            w.insert_event(&event, &uuid::Uuid::now_v7().to_string(), time::now())
        })
        .await
}

/// Events a project's clients may record at once ([`EventAllowance`]).
pub const EVENT_BURST: u32 = 600;
/// Events a project's clients earn each second.
pub const EVENTS_PER_SECOND: u32 = 10;
/// Bytes of events a project's clients may record at once.
pub const EVENT_BYTES_BURST: usize = 4 * 1024 * 1024;
/// Bytes of events a project's clients earn each second.
pub const EVENT_BYTES_PER_SECOND: usize = 16 * 1024;

/// How many events, and how many bytes of them, the clients of a project may record: kept for
/// [`RETENTION_SECS`], events posted without bound (a token with no permissions may post them)
/// would fill the catalog. The events Stowage records itself are not counted.
pub struct EventAllowance {
    count: crate::allowance::Allowances<i64>,
    bytes: crate::allowance::Allowances<i64>,
}

impl Default for EventAllowance {
    fn default() -> Self {
        EventAllowance {
            count: crate::allowance::Allowances::new(f64::from(EVENT_BURST), f64::from(EVENTS_PER_SECOND)),
            bytes: crate::allowance::Allowances::new(EVENT_BYTES_BURST as f64, EVENT_BYTES_PER_SECOND as f64),
        }
    }
}

impl EventAllowance {
    /// Counts one event of `size` bytes for `project_id`, or refuses it with a 429 that says when to try again.
    fn take(&self, project_id: i64, size: usize) -> Result<()> {
        let refused = |wait| {
            let wait = crate::allowance::seconds(wait);
            Error::new(Code::TooManyRequests, format!("Too many events recorded in this project: try again in {wait}."))
        };
        self.count.take(project_id, 1.0).map_err(refused)?;
        self.bytes.take(project_id, size as f64).map_err(refused)
    }
}

/// Deletes events past the retention period; returns how many.
pub async fn prune(core: &crate::Core) -> Result<usize> {
    let before = time::now() - RETENTION_SECS;
    core.store.write(move |w| w.prune_events(before)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<EventFilter> {
        let mut filter = EventFilter::default();
        parse_query(q, &mut filter).map(|()| filter)
    }

    #[test]
    fn field_terms_joined_by_and_become_exact_matches() {
        let filter = parse("token.id:12 AND event:storage.bucketCreated").unwrap();
        assert_eq!(
            filter.fields,
            vec![(EventField::TokenId, "12".into()), (EventField::Event, "storage.bucketCreated".into())]
        );
    }

    #[test]
    fn a_bare_word_is_a_free_text_search() {
        assert_eq!(parse("transformation").unwrap().words, vec!["transformation".to_string()]);
    }

    #[test]
    fn unparsable_queries_fail_with_keboolas_message_prefix() {
        for q in [": success", "success:", "/GET", "*tables*", "unknown:x", "a AND "] {
            let error = parse(q).unwrap_err();
            assert!(error.message.starts_with("Failed to parse query"), "{q}");
            assert_eq!(error.code.status(), 400);
        }
    }

    #[test]
    fn quoted_values_are_unquoted() {
        assert_eq!(parse("component:\"ex-db\"").unwrap().fields, vec![(EventField::Component, "ex-db".into())]);
    }
}
