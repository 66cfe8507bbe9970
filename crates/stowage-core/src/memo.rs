//! Catalog reads that every request makes, kept in memory until this process next writes to the
//! catalog: a request's token (with its grants), and for `tokens/verify` its project and bucket
//! ids. A value is kept with the catalog's generation read before it was read
//! ([`stowage_store::Store::generation`]) and served only while that generation stays, so a
//! change commits and the next request reads again. On a shared catalog (PostgreSQL), where other
//! servers write, nothing is kept. The one other writer of a SQLite catalog, `stowage recover`,
//! changes only the manage token and a console password, which nothing kept here holds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use stowage_types::auth::Token;
use stowage_types::Result;

use crate::records::Project;
use crate::Core;

/// Entries kept per kind before they are all dropped (a flood of unknown ids cannot grow it).
const MAX_ENTRIES: usize = 10_000;

/// Values by id, each with the generation it was read at.
struct Memo<V> {
    entries: Mutex<HashMap<i64, (u64, V)>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo { entries: Mutex::default() }
    }
}

impl<V: Clone> Memo<V> {
    fn get(&self, id: i64, generation: u64) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|poison| poison.into_inner());
        entries.get(&id).filter(|(at, _)| *at == generation).map(|(_, value)| value.clone())
    }

    fn put(&self, id: i64, generation: u64, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|poison| poison.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(id, (generation, value));
    }
}

/// See the module documentation.
#[derive(Default)]
pub struct Memos {
    tokens: Memo<Option<(Arc<Token>, Arc<str>)>>,
    projects: Memo<Option<(Project, Vec<String>)>>,
}

/// `read` through `memo`: a kept value of the current generation, or a read on the calling
/// thread (`Store::lookup`) kept for the next request.
async fn through<V, F>(core: &Core, memo: &Memo<V>, id: i64, read: F) -> Result<V>
where
    V: Clone + Send + 'static,
    F: FnOnce(&stowage_store::Reader<'_>) -> Result<V> + Send + 'static,
{
    let Some(generation) = core.store.generation() else { return core.store.lookup(read).await };
    if let Some(value) = memo.get(id, generation) {
        return Ok(value);
    }
    let value = core.store.lookup(read).await?;
    memo.put(id, generation, value.clone());
    Ok(value)
}

/// A token with its grants, and the hash of its secret.
pub(crate) async fn token_with_hash(core: &Core, id: i64) -> Result<Option<(Arc<Token>, Arc<str>)>> {
    through(core, &core.memos.tokens, id, move |r| {
        Ok(r.token_with_hash(id)?.map(|(token, hash)| (Arc::new(token), Arc::from(hash))))
    })
    .await
}

/// A project with the ids of its buckets.
pub(crate) async fn project_with_bucket_ids(core: &Core, id: i64) -> Result<Option<(Project, Vec<String>)>> {
    through(core, &core.memos.projects, id, move |r| r.project_with_bucket_ids(id)).await
}
