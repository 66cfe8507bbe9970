//! The conformance suite of the storage interfaces: what core relies on from a catalog
//! ([`Store`]'s transactions and queries) and from table storage ([`TableStore`] and
//! [`TableData`]): transactions, uniqueness, loads, exports with every filter, `changedSince`,
//! and job claiming with leases. Every backend must pass it: the catalog tests run on the embedded
//! catalog [`catalogs`] names and the table tests on every table store [`table_stores`] names:
//! SQLite and files always, PostgreSQL when `STOWAGE_TEST_DATABASE_URL` names a database (CI
//! starts one). The table tests are plain tests: the PostgreSQL client blocks.

use std::collections::HashSet;

use serde_json::json;
use stowage_store::records::{Bucket, TableRecord};
use stowage_store::table_data::{Cast, Filter, FilterOp, ImportMode, RowQuery, Schema, TableData, TableStore};
use stowage_store::Store;
use stowage_types::datatype::{BaseType, ColumnType};
use stowage_types::job::{Job, JobStatus};
use stowage_types::{Code, Error, Result};

/// A fresh catalog of every kind to test, each with project 1: SQLite always, and PostgreSQL (in
/// a schema of its own) when `STOWAGE_TEST_DATABASE_URL` names a database.
async fn catalogs() -> Vec<Catalog> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("catalog.sqlite")).unwrap();
    let mut catalogs = vec![Catalog { name: "sqlite", store, _cleanup: Box::new(dir) }];
    if let Some(url) = database_url() {
        let schema = format!("conformance_{}", uuid::Uuid::now_v7().simple());
        let (opened_url, opened_schema) = (url.clone(), schema.clone());
        let store = tokio::task::spawn_blocking(move || Store::open_postgres(&opened_url, &opened_schema))
            .await
            .unwrap()
            .unwrap();
        catalogs.push(Catalog { name: "postgres", store, _cleanup: Box::new(DropSchema { url, schema }) });
    }
    for catalog in &catalogs {
        catalog.store.write(|w| w.insert_project("p", 1, 0)).await.unwrap();
    }
    catalogs
}

struct Catalog {
    name: &'static str,
    store: Store,
    _cleanup: Box<dyn std::any::Any + Send>,
}

fn database_url() -> Option<String> {
    std::env::var("STOWAGE_TEST_DATABASE_URL").ok().filter(|url| !url.is_empty())
}

fn bucket(id: &str) -> Bucket {
    let (stage, name) = id.split_once('.').unwrap();
    Bucket {
        project_id: 1,
        id: id.into(),
        name: name.into(),
        display_name: name.into(),
        stage: stage.into(),
        backend: "sqlite".into(),
        ..Bucket::default()
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// Every table store to test, each fresh: (name, what removes it when dropped, the store).
fn table_stores() -> Vec<(&'static str, Box<dyn std::any::Any>, TableStore)> {
    let dir = tempfile::tempdir().unwrap();
    let files = TableStore::files(&dir.path().join("tables")).unwrap();
    let mut stores: Vec<(&'static str, Box<dyn std::any::Any>, TableStore)> = vec![("files", Box::new(dir), files)];
    if let Some(url) = database_url() {
        // A schema of its own, so tests running at once do not see one another's tables.
        let schema = format!("conformance_{}", uuid::Uuid::now_v7().simple());
        let store = TableStore::postgres(&url, &schema).unwrap();
        stores.push(("postgres", Box::new(DropSchema { url, schema }), store));
    }
    stores
}

/// Drops a test's schema when the test ends.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    /// On a thread of its own: the client cannot run inside a test's runtime.
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        let dropped = std::thread::spawn(move || {
            if let Ok(mut client) = postgres::Client::connect(&url, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
            }
        });
        let _ = dropped.join();
    }
}

/// Loads `csv` lines (the first is the header) into `data` at time `now` as job `job`.
fn load(data: &mut TableData, mode: ImportMode, now: i64, job: i64, csv: &[&str]) -> Result<i64> {
    let header = strings(&csv[0].split(',').collect::<Vec<_>>());
    let mut rows = csv[1..].iter().map(|line| Ok(strings(&line.split(',').collect::<Vec<_>>())));
    Ok(data.import(&header, mode, now, &mut rows, Some(job))?.rows_in_file)
}

/// The rows a query selects, as lines.
fn select(data: &TableData, query: &RowQuery) -> Vec<String> {
    let mut lines = Vec::new();
    data.query(query, &mut |values| {
        lines.push(values.join(","));
        Ok(())
    })
    .unwrap();
    lines
}

#[tokio::test]
async fn a_write_whose_closure_fails_leaves_nothing_behind() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let failed: Result<()> = store
            .write(|w| {
                w.insert_bucket(&bucket("in.c-a"))?;
                Err(Error::validation("changed my mind"))
            })
            .await;
        assert_eq!(failed.unwrap_err().code, Code::Validation);
        assert!(store.read(|r| r.bucket(1, "in.c-a")).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_catalog_starts_with_one_organization_and_keeps_its_members_projects_and_changes() {
    for catalog in catalogs().await {
        let name = catalog.name;
        let (first, maintainer) = catalog
            .store
            .write(move |w| {
                let first = w.organizations(None)?.remove(0);
                let maintainer = w.insert_maintainer("m", 5)?;
                let user = w.insert_user("a@example.com", "a", 5)?;
                let second = w.insert_organization(maintainer.id, "o", "crm", 5)?;
                assert!(w.insert_organization_member(second, user.id, 5)?);
                assert!(!w.insert_organization_member(second, user.id, 6)?, "{name}: a member joins once");
                let changes = stowage_store::records::OrganizationChanges {
                    name: Some("renamed".into()),
                    allow_auto_join: Some(false),
                    ..Default::default()
                };
                assert!(w.update_organization(second, &changes)?);
                assert!(w.set_project_organization(1, second)?);
                Ok((first, maintainer))
            })
            .await
            .unwrap();
        catalog
            .store
            .read(move |r| {
                assert_eq!(r.maintainers()?.len(), 2, "{name}");
                assert_eq!(r.organization_projects(first.id)?.len(), 0, "{name}");
                let second = r.organizations(Some(maintainer.id))?.remove(0);
                assert_eq!((second.name.as_str(), second.crm_id.as_str()), ("renamed", "crm"), "{name}");
                assert!(!second.allow_auto_join && !second.mfa_required, "{name}");
                assert_eq!(r.organization_projects(second.id)?[0].id, 1, "{name}");
                assert_eq!(r.project(1)?.unwrap().organization_id, second.id, "{name}");
                let members = r.organization_members(second.id)?;
                assert_eq!(members.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["a@example.com"], "{name}");
                assert!(r.is_organization_member(second.id, members[0].id)?, "{name}");
                assert!(!r.is_organization_member(first.id, members[0].id)?, "{name}");
                Ok(())
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_second_bucket_or_table_with_the_same_id_is_already_exists_and_not_a_server_fault() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        store.write(|w| w.insert_bucket(&bucket("in.c-a"))).await.unwrap();
        let again = store.write(|w| w.insert_bucket(&bucket("in.c-a"))).await.unwrap_err();
        assert_eq!(again.code, Code::BucketAlreadyExists, "{again:?}");
        let table = TableRecord {
            project_id: 1,
            bucket_id: "in.c-a".into(),
            id: "in.c-a.t".into(),
            name: "t".into(),
            storage_key: "k1".into(),
            ..TableRecord::default()
        };
        let first = table.clone();
        store.write(move |w| w.insert_table(&first)).await.unwrap();
        let again = store.write(move |w| w.insert_table(&TableRecord { storage_key: "k2".into(), ..table })).await;
        assert_eq!(again.unwrap_err().code, Code::TableAlreadyExists);
    }
}

#[test]
fn a_full_load_replaces_every_row_and_an_incremental_one_upserts_by_key_touching_only_changed_rows() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id", "v"]), primary_key: strings(&["id"]), types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        load(&mut data, ImportMode::Full, 100, 1, &["id,v", "1,a", "2,b", "3,c"]).unwrap();
        load(&mut data, ImportMode::Full, 150, 2, &["id,v", "1,first", "2,b", "1,last"]).unwrap();
        let mut kept = select(&data, &RowQuery::default());
        kept.sort();
        assert_eq!(kept, vec!["1,last", "2,b"], "a file that repeats a key keeps the last of those rows");
        assert_eq!(data.stats().unwrap().0, 2);
        load(&mut data, ImportMode::Full, 200, 2, &["id,v", "1,a", "2,b"]).unwrap();
        assert_eq!(select(&data, &RowQuery::default()), vec!["1,a", "2,b"], "a full load replaces");
        load(&mut data, ImportMode::Incremental, 300, 3, &["id,v", "2,b", "1,changed", "4,new"]).unwrap();
        let mut all = select(&data, &RowQuery::default());
        all.sort();
        assert_eq!(all, vec!["1,changed", "2,b", "4,new"]);
        let changed = RowQuery { changed_since: Some(300), ..RowQuery::default() };
        let mut moved = select(&data, &changed);
        moved.sort();
        assert_eq!(moved, vec!["1,changed", "4,new"], "an unchanged row keeps its time");
        assert_eq!(data.stats().unwrap().0, 3);
        load(&mut data, ImportMode::Incremental, 400, 4, &["id,v", "5,first", "1,again", "5,last"]).unwrap();
        let mut moved = select(&data, &RowQuery { changed_since: Some(400), ..RowQuery::default() });
        moved.sort();
        assert_eq!(moved, vec!["1,again", "5,last"], "a key the file repeats keeps its last row");
        assert_eq!(data.stats().unwrap().0, 4);
    }
}

/// PostgreSQL counts the rows an upsert inserted from the server's statistics of the transaction;
/// where the server keeps none, the table's rows are counted instead. (The role needs `GRANT SET
/// ON PARAMETER track_counts`, which CI gives it, to turn them off for its own sessions.)
#[test]
fn an_incremental_load_counts_its_rows_on_a_postgresql_server_that_keeps_no_statistics() {
    let Some(url) = database_url() else {
        eprintln!("PostgreSQL only: STOWAGE_TEST_DATABASE_URL is not set");
        return;
    };
    let url = format!("{url}{}options=-c%20track_counts%3Doff", if url.contains('?') { '&' } else { '?' });
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap_or_else(|error| {
        panic!("{error}: the test's role may not turn track_counts off (GRANT SET ON PARAMETER track_counts TO it)")
    });
    let setting: String = client.query_one("SHOW track_counts", &[]).unwrap().get(0);
    assert_eq!(setting, "off");
    let schema_name = format!("conformance_{}", uuid::Uuid::now_v7().simple());
    let _cleanup = DropSchema { url: url.clone(), schema: schema_name.clone() };
    let tables = TableStore::postgres(&url, &schema_name).unwrap();
    let schema = Schema { columns: strings(&["id", "v"]), primary_key: strings(&["id"]), types: None };
    let mut data = tables.create(&tables.new_key(), &schema).unwrap();
    load(&mut data, ImportMode::Full, 100, 1, &["id,v", "1,a", "2,b", "3,c"]).unwrap();
    load(&mut data, ImportMode::Incremental, 200, 2, &["id,v", "2,b", "3,changed", "4,new"]).unwrap();
    assert_eq!(data.stats().unwrap().0, 4);
    load(&mut data, ImportMode::Incremental, 300, 3, &["id,v", "5,first", "1,again", "5,last", "6,new"]).unwrap();
    assert_eq!(data.stats().unwrap().0, 6, "a key the file repeats is one row");
    let mut all = select(&data, &RowQuery::default());
    all.sort();
    assert_eq!(all, vec!["1,again", "2,b", "3,changed", "4,new", "5,last", "6,new"]);
}

#[test]
fn an_incremental_load_without_a_key_appends_and_a_file_with_a_new_column_adds_it() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id", "v"]), primary_key: vec![], types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        load(&mut data, ImportMode::Full, 100, 1, &["id,v", "1,a"]).unwrap();
        load(&mut data, ImportMode::Incremental, 200, 2, &["id,v", "1,a"]).unwrap();
        assert_eq!(select(&data, &RowQuery::default()), vec!["1,a", "1,a"], "without a key rows append");
        load(&mut data, ImportMode::Incremental, 300, 3, &["id,v,extra", "2,b,x"]).unwrap();
        assert_eq!(data.schema().unwrap().columns, strings(&["id", "v", "extra"]));
        assert_eq!(select(&data, &RowQuery::default()), vec!["1,a,", "1,a,", "2,b,x"], "old rows get empty values");
        assert_eq!(data.stats().unwrap().0, 3);
    }
}

#[test]
fn exports_select_columns_filter_by_every_operator_order_and_limit() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id", "city", "n"]), primary_key: vec![], types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        let csv = ["id,city,n", "1,Prague,10", "2,Brno,9", "3,Prague,100", "4,Ostrava,2"];
        load(&mut data, ImportMode::Full, 100, 1, &csv).unwrap();
        let filter = |column: &str, op, values: &[&str], cast| Filter {
            column: column.into(),
            op,
            values: strings(values),
            cast,
        };
        let query = |filters: Vec<Filter>| RowQuery { columns: strings(&["id"]), filters, ..RowQuery::default() };
        let ids = |q: RowQuery| select(&data, &q).join(" ");
        assert_eq!(ids(query(vec![filter("city", FilterOp::Eq, &["Prague", "Brno"], None)])), "1 2 3");
        assert_eq!(ids(query(vec![filter("city", FilterOp::Ne, &["Prague", "Brno"], None)])), "4");
        assert_eq!(ids(query(vec![filter("n", FilterOp::Gt, &["9"], Some(Cast::Integer))])), "1 3");
        assert_eq!(ids(query(vec![filter("n", FilterOp::Gt, &["9"], None)])), "", "as text, nothing sorts after 9");
        assert_eq!(ids(query(vec![filter("n", FilterOp::Ge, &["9"], Some(Cast::Integer))])), "1 2 3");
        assert_eq!(ids(query(vec![filter("n", FilterOp::Lt, &["9.5"], Some(Cast::Real))])), "2 4");
        assert_eq!(ids(query(vec![filter("n", FilterOp::Le, &["2"], Some(Cast::Integer))])), "4");
        let ordered = RowQuery {
            columns: strings(&["n", "id"]),
            order_by: vec![("n".into(), true, Some(Cast::Integer))],
            limit: Some(2),
            ..RowQuery::default()
        };
        assert_eq!(select(&data, &ordered), vec!["100,3", "10,1"]);
    }
}

#[test]
fn rows_are_written_as_the_same_enclosed_csv_bytes_by_every_store_with_every_filter() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id", "text"]), primary_key: strings(&["id"]), types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        let header = strings(&["id", "text"]);
        let values = [
            ("1", "plain"),
            ("2", "say \"hi\", twice"),
            ("3", "two\nlines\r\nand a \\ backslash"),
            ("4", ""),
            ("5", "ünïcödé ' quote"),
            ("6", "\""),
            ("7", "\"\"at both ends\""),
        ];
        let mut rows = values.iter().map(|(id, text)| Ok(strings(&[id, text])));
        data.import(&header, ImportMode::Full, 100, &mut rows, Some(1)).unwrap();
        let written = |query: &RowQuery| {
            let mut out = Vec::new();
            data.write_csv(query, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            written(&RowQuery::default()),
            "\"1\",\"plain\"\n\"2\",\"say \"\"hi\"\", twice\"\n\"3\",\"two\nlines\r\nand a \\ backslash\"\n\"4\",\"\"\n\
             \"5\",\"ünïcödé ' quote\"\n\"6\",\"\"\"\"\n\"7\",\"\"\"\"\"at both ends\"\"\"\n"
        );
        let filtered = RowQuery {
            columns: strings(&["text"]),
            filters: vec![Filter {
                column: "text".into(),
                op: FilterOp::Eq,
                values: strings(&["say \"hi\", twice", "ünïcödé ' quote", "x'); DROP TABLE meta; --"]),
                cast: None,
            }],
            order_by: vec![("id".into(), true, Some(Cast::Integer))],
            limit: Some(5),
            ..RowQuery::default()
        };
        assert_eq!(
            written(&filtered),
            "\"ünïcödé ' quote\"\n\"say \"\"hi\"\", twice\"\n",
            "values in filters stay values"
        );
        let none = RowQuery { changed_since: Some(101), ..RowQuery::default() };
        assert_eq!(written(&none), "");
    }
}

fn typed(name: &str, basetype: BaseType, length: Option<&str>, nullable: bool, default: Option<&str>) -> ColumnType {
    ColumnType {
        name: name.into(),
        basetype,
        length: length.map(str::to_string),
        nullable,
        default: default.map(str::to_string),
    }
}

#[test]
fn a_typed_table_reads_back_the_canonical_text_it_was_given_and_postgresql_keeps_native_types() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let types = vec![
            typed("id", BaseType::Integer, None, false, None),
            typed("amount", BaseType::Numeric, Some("10,2"), true, None),
            typed("ratio", BaseType::Float, None, true, None),
            typed("ok", BaseType::Boolean, None, true, None),
            typed("day", BaseType::Date, None, true, None),
            typed("at", BaseType::Timestamp, None, true, None),
            typed("code", BaseType::String, Some("5"), true, None),
        ];
        let columns: Vec<String> = types.iter().map(|t| t.name.clone()).collect();
        let schema = Schema { columns, primary_key: strings(&["id"]), types: Some(types.clone()) };
        let key = tables.new_key();
        let mut data = tables.create(&key, &schema).unwrap();
        let header = "id,amount,ratio,ok,day,at,code";
        let first = "1,12.50,1e+20,true,2026-02-03,2026-02-03 04:05:06.25,abc";
        load(&mut data, ImportMode::Full, 100, 1, &[header, first, "2,,,,,,"]).unwrap();
        assert_eq!(select(&data, &RowQuery::default()), vec![first, "2,,,,,,"], "values and nulls read back as given");
        let second = "2,0.10,-0,false,2026-12-31,2026-12-31 23:59:59,xy";
        load(&mut data, ImportMode::Incremental, 300, 2, &[header, first, second]).unwrap();
        assert_eq!(select(&data, &RowQuery { changed_since: Some(300), ..RowQuery::default() }), vec![second]);
        let filter =
            |column: &str, op, value: &str, cast| Filter { column: column.into(), op, values: strings(&[value]), cast };
        let query = RowQuery {
            columns: strings(&["id"]),
            filters: vec![filter("ok", FilterOp::Eq, "true", None)],
            ..RowQuery::default()
        };
        assert_eq!(select(&data, &query), vec!["1"], "a boolean compares as its text");
        let query = RowQuery {
            columns: strings(&["id"]),
            filters: vec![filter("amount", FilterOp::Lt, "1", Some(Cast::Real))],
            order_by: vec![("day".into(), true, None)],
            ..RowQuery::default()
        };
        assert_eq!(select(&data, &query), vec!["2"], "a number compares as a number");

        data.add_column("note", Some(&typed("", BaseType::String, None, true, Some("n/a")))).unwrap();
        let schema = data.add_column("qty", Some(&typed("", BaseType::Integer, None, false, Some("0")))).unwrap();
        let query = RowQuery { columns: strings(&["id", "note", "qty"]), ..RowQuery::default() };
        assert_eq!(select(&data, &query), vec!["1,n/a,0", "2,n/a,0"], "existing rows take the default");
        let added = schema.types.as_ref().unwrap();
        assert_eq!((added.len(), added[8].name.as_str()), (9, "qty"));
        assert_eq!(data.schema().unwrap(), schema, "the types are kept with the table");
        assert!(data.add_column("untyped", None).is_err(), "a typed table takes typed columns only");
        let refused =
            load(&mut data, ImportMode::Incremental, 400, 3, &[&format!("{header},note,qty,extra"), "3,,,,,,,,,x"]);
        assert_eq!(refused.unwrap_err().code, Code::TableValidation, "an import adds no untyped column to it");

        if backend == "postgres" {
            let mut client = postgres::Client::connect(&database_url().unwrap(), postgres::NoTls).unwrap();
            let rows = client
                .query(
                    "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1
                     AND column_name NOT LIKE '\\_%' ORDER BY ordinal_position",
                    &[&key],
                )
                .unwrap();
            let found: Vec<String> =
                rows.iter().map(|r| format!("{} {}", r.get::<_, String>(0), r.get::<_, String>(1))).collect();
            assert_eq!(
                found,
                strings(&[
                    "id numeric",
                    "amount numeric",
                    "ratio double precision",
                    "ok boolean",
                    "day date",
                    "at timestamp without time zone",
                    "code character varying",
                    "note text",
                    "qty numeric",
                ])
            );
        }
    }
}

#[test]
fn changed_since_and_until_select_rows_by_the_time_of_their_last_change() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id"]), primary_key: strings(&["id"]), types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        load(&mut data, ImportMode::Full, 100, 1, &["id", "1"]).unwrap();
        load(&mut data, ImportMode::Incremental, 200, 2, &["id", "2"]).unwrap();
        load(&mut data, ImportMode::Incremental, 300, 3, &["id", "3"]).unwrap();
        let window = |since, until| RowQuery { changed_since: since, changed_until: until, ..RowQuery::default() };
        assert_eq!(select(&data, &window(Some(200), None)), vec!["2", "3"], "since is inclusive");
        assert_eq!(select(&data, &window(None, Some(300))), vec!["1", "2"], "until is exclusive");
        assert_eq!(select(&data, &window(Some(150), Some(250))), vec!["2"]);
    }
}

#[test]
fn a_table_created_with_its_rows_reads_like_any_other_and_finds_its_changed_rows_whatever_the_clock_did() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id", "v"]), primary_key: strings(&["id"]), types: None };
        let (key, header) = (tables.new_key(), strings(&["id", "v"]));
        let mut rows = [["1", "first"], ["2", "b"], ["3", "c"], ["1", "a"]].into_iter().map(|row| Ok(strings(&row)));
        let (_, stats) = tables.create_loaded(&key, &schema, &header, 500, &mut rows, Some(7)).unwrap();
        assert_eq!(stats.rows_in_file, 4);
        // Another connection, as every later job opens it.
        let mut data = tables.open(&key).unwrap();
        assert_eq!(select(&data, &RowQuery::default()), vec!["2,b", "3,c", "1,a"], "a repeated key keeps its last row");
        assert_eq!(data.last_job().unwrap().unwrap().0, 7);
        assert_eq!(data.schema().unwrap().primary_key, strings(&["id"]));

        load(&mut data, ImportMode::Incremental, 600, 8, &["id,v", "2,changed", "4,new", "3,c"]).unwrap();
        // The clock went back before the next load.
        load(&mut data, ImportMode::Incremental, 450, 9, &["id,v", "3,earlier"]).unwrap();
        let window = |data: &TableData, since, until| {
            let mut rows =
                select(data, &RowQuery { changed_since: since, changed_until: until, ..RowQuery::default() });
            rows.sort();
            rows
        };
        assert_eq!(window(&data, Some(600), None), vec!["2,changed", "4,new"]);
        assert_eq!(window(&data, Some(501), None), vec!["2,changed", "4,new"], "rows changed after the load");
        assert_eq!(window(&data, Some(500), None), vec!["1,a", "2,changed", "4,new"], "since is inclusive");
        assert_eq!(window(&data, Some(450), None), vec!["1,a", "2,changed", "3,earlier", "4,new"]);
        assert_eq!(window(&data, None, Some(500)), vec!["3,earlier"], "until is exclusive");
        assert_eq!(window(&data, Some(501), Some(600)), Vec::<String>::new());

        // A full load of the same table starts over from its own time.
        load(&mut data, ImportMode::Full, 700, 10, &["id,v", "1,x", "2,y"]).unwrap();
        load(&mut data, ImportMode::Incremental, 800, 11, &["id,v", "2,z"]).unwrap();
        assert_eq!(window(&data, Some(701), None), vec!["2,z"]);
        assert_eq!(window(&data, Some(700), None), vec!["1,x", "2,z"]);
    }
}

#[test]
fn a_table_created_with_rows_that_fail_is_not_created() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id"]), primary_key: vec![], types: None };
        let key = tables.new_key();
        let mut rows = vec![Ok(strings(&["1"])), Err(Error::new(Code::CsvInvalid, "bad line 3"))].into_iter();
        let failed = tables.create_loaded(&key, &schema, &strings(&["id"]), 100, &mut rows, Some(1));
        assert_eq!(failed.err().unwrap().code, Code::CsvInvalid);
        // The caller removes what the failed create left.
        tables.remove(&key);
        assert!(!tables.keys().unwrap().contains(&key));
    }
}

#[test]
fn an_import_records_its_job_with_its_rows_and_a_failed_one_leaves_rows_and_record_as_they_were() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id"]), primary_key: vec![], types: None };
        let mut data = tables.create(&tables.new_key(), &schema).unwrap();
        load(&mut data, ImportMode::Full, 100, 41, &["id", "1", "2"]).unwrap();
        let (job, stats) = data.last_job().unwrap().unwrap();
        assert_eq!((job, stats.rows_in_file), (41, 2));
        let header = strings(&["id"]);
        let mut rows = vec![Ok(strings(&["3"])), Err(Error::new(Code::CsvInvalid, "bad line 3"))].into_iter();
        let failed = data.import(&header, ImportMode::Incremental, 200, &mut rows, Some(42));
        assert_eq!(failed.unwrap_err().code, Code::CsvInvalid);
        assert_eq!(select(&data, &RowQuery::default()), vec!["1", "2"]);
        assert_eq!(data.last_job().unwrap().unwrap().0, 41, "the failed job left no record");
    }
}

#[test]
fn table_storage_is_found_by_key_removed_by_key_and_swept_of_what_no_table_owns() {
    for (backend, _dir, tables) in table_stores() {
        eprintln!("table store: {backend}");
        let schema = Schema { columns: strings(&["id"]), primary_key: vec![], types: None };
        let (kept, dropped, orphan) = (tables.new_key(), tables.new_key(), tables.new_key());
        for key in [&kept, &dropped, &orphan] {
            load(&mut tables.create(key, &schema).unwrap(), ImportMode::Full, 1, 1, &["id", "1"]).unwrap();
        }
        tables.remove(&dropped);
        assert!(tables.open(&dropped).is_err());
        let removed = tables.sweep(&HashSet::from([kept.clone()])).unwrap();
        assert!(removed >= 1, "the orphan's storage is removed");
        assert!(tables.open(&orphan).is_err());
        assert_eq!(select(&tables.open(&kept).unwrap(), &RowQuery::default()), vec!["1"]);
    }
}

/// Stores a waiting job on `table` and returns its id.
async fn submit(store: &Store, table: Option<&str>) -> i64 {
    let table = table.map(str::to_string);
    store
        .write(move |w| {
            let job = Job {
                id: 0,
                project_id: 1,
                status: JobStatus::Waiting,
                operation_name: "tableImport".into(),
                operation_params: json!({}),
                table_id: table,
                run_id: None,
                created: 0,
                start: None,
                end: None,
                results: json!(null),
                metrics: json!({}),
                error: None,
                creator_token_id: 1,
                creator_token_description: "t".into(),
                component: None,
            };
            Ok(w.insert_job(&job, &json!({ "kind": "test" }), &json!({}))?.id)
        })
        .await
        .unwrap()
}

async fn claim(store: &Store, owner: &'static str, now: i64) -> Option<i64> {
    store.write(move |w| w.claim_job(owner, now, now + 30, false)).await.unwrap().map(|claimed| claimed.job.id)
}

#[tokio::test]
async fn two_workers_never_claim_the_same_job_and_jobs_are_claimed_oldest_first() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let first = submit(&store, None).await;
        let second = submit(&store, None).await;
        assert_eq!(claim(&store, "a", 100).await, Some(first));
        assert_eq!(claim(&store, "b", 100).await, Some(second));
        assert_eq!(claim(&store, "c", 100).await, None, "both jobs are held");
        let components = store.write(|w| w.claim_job("c", 100, 130, true)).await.unwrap();
        assert!(components.is_none(), "a component worker does not take storage jobs");
    }
}

#[tokio::test]
async fn a_job_of_a_table_waits_until_the_older_jobs_of_that_table_end() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let import = submit(&store, Some("in.c-b.t")).await;
        let next_import = submit(&store, Some("in.c-b.t")).await;
        let other_table = submit(&store, Some("in.c-b.u")).await;
        assert_eq!(claim(&store, "a", 100).await, Some(import));
        assert_eq!(claim(&store, "b", 100).await, Some(other_table), "the second import of t waits");
        assert_eq!(claim(&store, "b", 100).await, None);
        let ended =
            store.write(move |w| w.finish_claimed_job(import, "a", 101, JobStatus::Success, &json!({}), None, None));
        assert!(ended.await.unwrap());
        assert_eq!(claim(&store, "b", 102).await, Some(next_import));
    }
}

#[tokio::test]
async fn a_job_whose_lease_expired_is_taken_over_and_its_first_worker_can_no_longer_renew_or_end_it() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let id = submit(&store, Some("in.c-b.t")).await;
        assert_eq!(claim(&store, "a", 100).await, Some(id));
        assert!(store.write(move |w| w.renew_job_lease(id, "a", 140)).await.unwrap(), "the holder renews until 140");
        assert_eq!(claim(&store, "b", 139).await, None, "the lease still holds");
        let taken = store.write(|w| w.claim_job("b", 141, 171, false)).await.unwrap().unwrap();
        assert_eq!((taken.job.id, taken.attempt), (id, 2));
        assert_eq!(taken.work, json!({ "kind": "test" }));
        assert!(!store.write(move |w| w.renew_job_lease(id, "a", 200)).await.unwrap(), "the first worker lost the job");
        let late = json!({ "message": "late" });
        let ended =
            store.write(move |w| w.finish_claimed_job(id, "a", 150, JobStatus::Error, &json!({}), None, Some(&late)));
        assert!(!ended.await.unwrap(), "a worker that lost its lease cannot record an outcome");
        let ended = store
            .write(move |w| w.finish_claimed_job(id, "b", 150, JobStatus::Success, &json!({ "ok": 1 }), None, None));
        assert!(ended.await.unwrap());
        let job = store.read(move |r| r.job(1, id)).await.unwrap().unwrap();
        assert_eq!((job.status, job.results), (JobStatus::Success, json!({ "ok": 1 })));
    }
}

#[tokio::test]
async fn a_termination_request_ends_a_waiting_job_at_once_and_flags_a_running_one() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let waiting = submit(&store, None).await;
        let running = submit(&store, None).await;
        let before = store.write(move |w| w.request_termination(1, waiting, 5)).await.unwrap();
        assert_eq!(before, Some(JobStatus::Waiting));
        assert_eq!(claim(&store, "a", 100).await, Some(running), "the terminated job is not claimed");
        assert!(!store.read(move |r| r.termination_requested(running)).await.unwrap());
        let before = store.write(move |w| w.request_termination(1, running, 6)).await.unwrap();
        assert_eq!(before, Some(JobStatus::Processing));
        assert!(store.read(move |r| r.termination_requested(running)).await.unwrap());
        let job = store.read(move |r| r.job(1, waiting)).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Terminated);
        assert_eq!(store.write(|w| w.request_termination(1, 999, 7)).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_named_lease_is_held_by_one_process_until_it_expires() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let take =
            |owner: &'static str, now: i64| store.write(move |w| w.take_lease("maintenance", owner, now, now + 60));
        assert!(take("a", 100).await.unwrap());
        assert!(!take("b", 120).await.unwrap(), "a holds it until 160");
        assert!(take("a", 150).await.unwrap(), "the holder renews until 210");
        assert!(!take("b", 200).await.unwrap());
        assert!(take("b", 210).await.unwrap(), "an expired lease is taken over");
        assert!(!take("a", 220).await.unwrap());
    }
}

#[tokio::test]
async fn a_restarted_server_ends_the_leases_its_dead_process_held_and_no_other_servers() {
    for catalog in catalogs().await {
        eprintln!("catalog: {}", catalog.name);
        let store = catalog.store.clone();
        let mine = submit(&store, None).await;
        let theirs = submit(&store, None).await;
        assert_eq!(claim(&store, "server_a/1-x", 100).await, Some(mine));
        assert_eq!(claim(&store, "server%b/2-y", 100).await, Some(theirs));
        let ended = store.write(|w| w.expire_job_leases(Some("server_a/"))).await.unwrap();
        assert_eq!(ended, 1, "only server_a's lease ends");
        assert_eq!(claim(&store, "server_a/3-z", 101).await, Some(mine), "taken over at once");
        assert_eq!(claim(&store, "server_a/3-z", 101).await, None, "the other server's job keeps its lease");
        assert_eq!(store.write(|w| w.expire_job_leases(None)).await.unwrap(), 2, "alone, a server ends every lease");
    }
}
