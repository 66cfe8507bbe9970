//! Typed tables: `tables-definition`, checked imports, canonical exports, columns added with a type.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// Creates a table from a definition and waits for its job.
async fn define(app: &TestApp, bucket: &str, body: Value) -> Value {
    let job = app.post(&format!("/v2/storage/buckets/{bucket}/tables-definition"), &app.admin, body).await.expect(202);
    assert_eq!(job.body["operationName"], "tableDefinitionCreate");
    app.wait_job(job.body).await
}

fn orders() -> Value {
    json!({
        "name": "orders",
        "primaryKeysNames": ["id"],
        "columns": [
            {"name": "id", "basetype": "INTEGER"},
            {"name": "amount", "basetype": "NUMERIC", "definition": {"length": "10,2", "nullable": false}},
            {"name": "paid", "definition": {"type": "BOOLEAN"}},
            {"name": "day", "basetype": "DATE"},
            {"name": "at", "definition": {"type": "TIMESTAMP_NTZ"}},
            {"name": "note", "definition": {"type": "VARCHAR", "length": "5", "default": "none"}},
        ],
    })
}

#[tokio::test]
async fn a_typed_table_keeps_canonical_values_and_refuses_a_bad_one_with_its_line_column_value_and_type() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("typed").await;
    let job = define(&app, &bucket, orders()).await;
    assert_eq!(job["status"], "success", "{job}");
    let table = format!("{bucket}.orders");
    let detail = app.get(&format!("/v2/storage/tables/{table}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["isTyped"], true);
    assert_eq!(detail["columns"], json!(["id", "amount", "paid", "day", "at", "note"]));
    assert_eq!(detail["primaryKey"], json!(["id"]));
    assert_eq!(detail["definition"]["primaryKeysNames"], json!(["id"]));
    assert_eq!(
        detail["definition"]["columns"][1],
        json!({"name": "amount", "definition": {"type": "NUMERIC", "nullable": false, "length": "10,2"},
            "basetype": "NUMERIC", "canBeFiltered": true})
    );
    assert_eq!(detail["definition"]["columns"][0]["definition"]["nullable"], false, "a key column is not nullable");
    let metadata: Vec<(String, String, String)> = detail["columnMetadata"]["amount"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["provider"].as_str().unwrap().into(),
                e["key"].as_str().unwrap().into(),
                e["value"].as_str().unwrap().into(),
            )
        })
        .collect();
    for (key, value) in [
        ("KBC.datatype.type", "NUMERIC"),
        ("KBC.datatype.basetype", "NUMERIC"),
        ("KBC.datatype.length", "10,2"),
        ("KBC.datatype.nullable", ""),
    ] {
        assert!(metadata.contains(&("storage".into(), key.into(), value.into())), "{key}: {metadata:?}");
    }

    let csv = "id,amount,paid,day,at,note\n007,1.5,yes,2026-01-02,2026-01-02T03:04:05+01:00,hi\n2,-3,0,2026-02-28,2026-02-28 10:00,\n";
    let job = app.import(&table, csv, json!({})).await;
    assert_eq!(job["status"], "success", "{job}");
    let exported = String::from_utf8(app.export(&table, json!({})).await).unwrap();
    let mut lines: Vec<&str> = exported.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "\"2\",\"-3.00\",\"false\",\"2026-02-28\",\"2026-02-28 10:00:00\",\"none\"",
            "\"7\",\"1.50\",\"true\",\"2026-01-02\",\"2026-01-02 02:04:05\",\"hi\"",
        ],
        "an export (without a header, as Keboola's) has the values in canonical form"
    );
    let preview = app.preview(&table, "orderBy[0][column]=id").await;
    assert!(preview.contains("\"7\",\"1.50\",\"true\""), "{preview}");

    let bad = "id,amount,paid,day,at,note\n3,4.25,1,2026-03-01,2026-03-01 00:00:00,ok\n4,12.345,1,2026-03-01,2026-03-01 00:00:00,ok\n";
    let job = app.import(&table, bad, json!({"incremental": true})).await;
    assert_eq!(job["status"], "error", "{job}");
    assert_eq!(job["error"]["code"], "storage.tables.invalidValue");
    assert_eq!(
        job["error"]["message"],
        "Invalid value on line 3, column \"amount\" (NUMERIC(10,2)): \"12.345\" has 3 decimal places, the column keeps 2."
    );
    for (csv, message) in [
        (
            "id,amount,paid,day,at,note\n,1,1,2026-03-01,,\n",
            "column \"id\" (INTEGER): \"\" is empty, and the column is not nullable.",
        ),
        (
            "id,amount,paid,day,at,note\n5,1,maybe,2026-03-01,,\n",
            "column \"paid\" (BOOLEAN): \"maybe\" is not a boolean",
        ),
        (
            "id,amount,paid,day,at,note\n5,1,1,2026-03-01,,toolong\n",
            "column \"note\" (STRING(5)): \"toolong\" is longer than 5 characters.",
        ),
        (
            "id,amount,paid,day,at,note,extra\n5,1,1,2026-03-01,,,x\n",
            "The column \"extra\" of the file is not a column of the typed table",
        ),
    ] {
        let job = app.import(&table, csv, json!({"incremental": true})).await;
        let error = job["error"]["message"].as_str().unwrap_or_default().to_string();
        assert!(job["status"] == "error" && error.contains(message), "{message}: {job}");
    }
    let after = app.get(&format!("/v2/storage/tables/{table}"), &app.admin).await.expect(200).body;
    assert_eq!(after["rowsCount"], 2, "a refused import leaves the table as it was");
    assert_eq!(String::from_utf8(app.export(&table, json!({})).await).unwrap().lines().count(), 2);
}

#[tokio::test]
async fn a_definition_with_a_mistake_is_refused_before_any_job() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("refused-types").await;
    let path = format!("/v2/storage/buckets/{bucket}/tables-definition");
    let column = |column: Value| json!({"name": "t", "columns": [column]});
    for (body, message) in [
        (column(json!({"name": "a", "basetype": "GEOGRAPHY"})), "Column \"a\": basetype \"GEOGRAPHY\" is not one of"),
        (
            column(json!({"name": "a", "definition": {"type": "VARIANT"}})),
            "Column \"a\": type \"VARIANT\" is not a type this stack keeps",
        ),
        (
            column(json!({"name": "a", "basetype": "NUMERIC", "definition": {"length": "40,2"}})),
            "Column \"a\": the length of a NUMERIC",
        ),
        (
            column(json!({"name": "a", "basetype": "DATE", "definition": {"default": "soon"}})),
            "Column \"a\": the default \"soon\" is not a date",
        ),
        (
            json!({"name": "t", "primaryKeysNames": ["a"], "columns": [{"name": "a", "basetype": "INTEGER", "definition": {"nullable": true}}]}),
            "Column \"a\" is in the primary key, so it cannot be nullable.",
        ),
        (
            json!({"name": "t", "columns": [{"name": "a", "basetype": "INTEGER"}, {"name": "b"}]}),
            "Column \"b\" has no type",
        ),
        (
            json!({"name": "t", "primaryKeysNames": ["z"], "columns": [{"name": "a", "basetype": "INTEGER"}]}),
            "The primary key column \"z\"",
        ),
        (json!({"name": "t", "columns": []}), "Parameter \"columns\" must define at least one column."),
        (json!({"name": "t", "columns": [{"basetype": "INTEGER"}]}), "Parameter \"columns[0].name\" is required."),
    ] {
        let reply = app.post(&path, &app.admin, body.clone()).await.expect_error(400, "storage.tables.validation");
        assert!(reply.message().starts_with(message), "{body}: {}", reply.message());
    }
    let tables = app.get(&format!("/v2/storage/buckets/{bucket}/tables"), &app.admin).await.expect(200).body;
    assert_eq!(tables, json!([]));
}

#[tokio::test]
async fn columns_are_added_with_a_type_to_a_typed_table_and_by_name_to_an_untyped_one() {
    let app = spawn_app().await;
    let bucket = app.create_bucket("columns").await;
    define(&app, &bucket, orders()).await;
    let table = format!("{bucket}.orders");
    app.import(&table, "id,amount,paid,day,at,note\n1,2,1,2026-01-01,,x\n", json!({})).await;
    let add = |table: String, body: Value| {
        let app = &app;
        async move { app.post(&format!("/v2/storage/tables/{table}/columns"), &app.admin, body).await }
    };
    let job = add(
        table.clone(),
        json!({"name": "region", "basetype": "STRING", "definition": {"default": "EU", "nullable": false}}),
    )
    .await
    .expect(202)
    .body;
    assert_eq!(job["operationName"], "tableColumnAdd");
    assert_eq!(app.wait_job(job).await["status"], "success");
    let detail = app.get(&format!("/v2/storage/tables/{table}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["definition"]["columns"][6]["name"], "region");
    assert_eq!(detail["definition"]["columns"][6]["definition"]["default"], "EU");
    let exported = String::from_utf8(app.export(&table, json!({})).await).unwrap();
    assert!(exported.ends_with(",\"x\",\"EU\"\n"), "existing rows take the default: {exported}");
    let reply = add(table.clone(), json!({"name": "untyped"})).await.expect_error(400, "storage.tables.validation");
    assert!(reply.message().contains("is typed: give the column \"untyped\" a basetype"), "{}", reply.message());
    let reply =
        add(table.clone(), json!({"name": "strict", "basetype": "INTEGER", "definition": {"nullable": false}})).await;
    assert!(reply
        .expect_error(400, "storage.tables.validation")
        .message()
        .contains("is not nullable and has no default"));
    add(table.clone(), json!({"name": "REGION", "basetype": "STRING"}))
        .await
        .expect_error(400, "storage.tables.validation");

    let untyped = define(&app, &bucket, json!({"name": "plain", "columns": [{"name": "a"}, {"name": "b"}]})).await;
    assert_eq!(untyped["status"], "success");
    let plain = format!("{bucket}.plain");
    let detail = app.get(&format!("/v2/storage/tables/{plain}"), &app.admin).await.expect(200).body;
    assert_eq!((detail["isTyped"].clone(), detail.get("definition").cloned()), (json!(false), None));
    let job = add(plain.clone(), json!({"name": "c"})).await.expect(202).body;
    assert_eq!(app.wait_job(job).await["status"], "success");
    let detail = app.get(&format!("/v2/storage/tables/{plain}"), &app.admin).await.expect(200).body;
    assert_eq!(detail["columns"], json!(["a", "b", "c"]));
    let reply =
        add(plain, json!({"name": "d", "basetype": "INTEGER"})).await.expect_error(400, "storage.tables.validation");
    assert!(reply.message().contains("is not typed"), "{}", reply.message());
}

#[tokio::test]
async fn a_table_defined_while_maintenance_sweeps_table_storage_keeps_its_storage() {
    // Maintenance without a pause: on a shared catalog each round sweeps table storage no table
    // owns, and a definition's storage exists a moment before the catalog registers it.
    let app = spawn_app_with(|config| config.maintenance_interval = std::time::Duration::from_millis(1)).await;
    let bucket = app.create_bucket("swept").await;
    for n in 0..8 {
        let mut body = orders();
        body["name"] = json!(format!("orders{n}"));
        let job = define(&app, &bucket, body).await;
        assert_eq!(job["status"], "success", "{job}");
        let csv = "id,amount,paid,day,at,note\n1,1.5,yes,2026-01-02,2026-01-02 03:04:05,hi\n";
        let job = app.import(&format!("{bucket}.orders{n}"), csv, json!({})).await;
        assert_eq!(job["status"], "success", "orders{n} lost its storage: {job}");
    }
}
