//! Events: insert, filtered listing, retention.

use stowage_types::event::{Event, EventField, EventFilter, NewEvent};
use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::sql::{dynamic, params, Row, Value as SqlValue};
use crate::{json, json_text, Reader, Writer};

const COLUMNS: &str = "id, uuid, created, project_id, branch_id, event, component, message, description, type,
    run_id, configuration_id, object_type, object_id, object_name, params, results, performance, context,
    token_id, token_name";

fn event(row: &Row<'_>) -> Result<(Event, [String; 4])> {
    let raw = [row.get(15)?, row.get(16)?, row.get(17)?, row.get(18)?];
    let event = Event {
        id: row.get(0)?,
        uuid: row.get(1)?,
        created: row.get(2)?,
        data: NewEvent {
            project_id: row.get(3)?,
            branch_id: row.get(4)?,
            event: row.get(5)?,
            component: row.get(6)?,
            message: row.get(7)?,
            description: row.get(8)?,
            kind: row.get(9)?,
            run_id: row.get(10)?,
            configuration_id: row.get(11)?,
            object_type: row.get(12)?,
            object_id: row.get(13)?,
            object_name: row.get(14)?,
            token_id: row.get(19)?,
            token_name: row.get(20)?,
            ..NewEvent::default()
        },
    };
    Ok((event, raw))
}

fn finish((mut event, [params, results, performance, context]): (Event, [String; 4])) -> Result<Event> {
    event.data.params = json(&params)?;
    event.data.results = json(&results)?;
    event.data.performance = json(&performance)?;
    event.data.context = json(&context)?;
    Ok(event)
}

fn column(field: EventField) -> &'static str {
    match field {
        EventField::TokenId => "CAST(token_id AS TEXT)",
        EventField::Event => "event",
        EventField::ObjectId => "object_id",
        EventField::ObjectType => "object_type",
        EventField::BranchId => "CAST(branch_id AS TEXT)",
        EventField::Component => "component",
        EventField::RunId => "run_id",
        EventField::ProjectId => "CAST(project_id AS TEXT)",
        EventField::Type => "type",
        EventField::ConfigurationId => "configuration_id",
    }
}

impl Reader<'_> {
    /// Events matching `filter`, in the filter's order.
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<Event>> {
        let mut sql = format!("SELECT {COLUMNS} FROM events WHERE project_id = ?");
        let mut args: Vec<SqlValue<'static>> = vec![filter.project_id.into()];
        let mut push = |condition: &str, values: Vec<SqlValue<'static>>| {
            sql.push_str(" AND ");
            sql.push_str(condition);
            args.extend(values);
        };
        if let Some(branch_id) = filter.branch_id {
            push("branch_id = ?", vec![branch_id.into()]);
        }
        if let Some(since_id) = filter.since_id {
            push("id > ?", vec![since_id.into()]);
        }
        if let Some(max_id) = filter.max_id {
            push("id < ?", vec![max_id.into()]);
        }
        if let Some(component) = &filter.component {
            push("component = ?", vec![component.clone().into()]);
        }
        if let Some(configuration_id) = &filter.configuration_id {
            push("configuration_id = ?", vec![configuration_id.clone().into()]);
        }
        if let Some(run_id) = &filter.run_id {
            push("run_id = ?", vec![run_id.clone().into()]);
        }
        if let Some(token_id) = filter.made_by_token {
            push("token_id = ?", vec![token_id.into()]);
        }
        if let Some((object_type, object_id)) = &filter.about_object {
            push("object_type = ? AND object_id = ?", vec![object_type.clone().into(), object_id.clone().into()]);
        }
        if let Some(token_id) = filter.token_feed {
            push(
                "((object_type = 'token' AND object_id = ?) OR token_id = ?)",
                vec![token_id.to_string().into(), token_id.into()],
            );
        }
        for (field, value) in &filter.fields {
            push(&format!("{} = ?", column(*field)), vec![value.clone().into()]);
        }
        for word in &filter.words {
            let pattern = format!("%{}%", word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
            let like = self.conn.like();
            push(
                &format!("(message {like} ? ESCAPE '\\' OR event {like} ? ESCAPE '\\')"),
                vec![pattern.clone().into(), pattern.into()],
            );
        }
        sql.push_str(if filter.ascending { " ORDER BY id ASC" } else { " ORDER BY id DESC" });
        sql.push_str(" LIMIT ? OFFSET ?");
        args.push(filter.limit.into());
        args.push(filter.offset.into());
        let rows = self.conn.rows(&sql, &dynamic(&args), event)?;
        rows.into_iter().map(finish).collect()
    }

    /// One event of a project by numeric id or uuid.
    pub fn event(&self, project_id: i64, id_or_uuid: &str) -> Result<Option<Event>> {
        let found = match id_or_uuid.parse::<i64>() {
            Ok(id) => self.conn.row(
                &format!("SELECT {COLUMNS} FROM events WHERE project_id = ?1 AND id = ?2"),
                params![project_id, id],
                event,
            ),
            Err(_) => self.conn.row(
                &format!("SELECT {COLUMNS} FROM events WHERE project_id = ?1 AND uuid = ?2"),
                params![project_id, id_or_uuid],
                event,
            ),
        };
        found?.map(finish).transpose()
    }

    /// The numeric id of an event given by id or uuid (for `sinceId`/`maxId`).
    pub fn event_id(&self, project_id: i64, id_or_uuid: &str) -> Result<Option<i64>> {
        self.conn.row(
            "SELECT id FROM events WHERE project_id = ?1 AND uuid = ?2",
            params![project_id, id_or_uuid],
            |row| row.get(0),
        )
    }
}

impl Writer<'_> {
    /// Records an event and returns (id, uuid).
    pub fn insert_event(&self, event: &NewEvent, uuid: &str, created: Timestamp) -> Result<(i64, String)> {
        let text = |value: &serde_json::Value| -> Result<String> {
            if value.is_null() {
                Ok("{}".to_string())
            } else {
                json_text(value)
            }
        };
        let (params, results) = (text(&event.params)?, text(&event.results)?);
        let (performance, context) = (text(&event.performance)?, text(&event.context)?);
        self.conn().one(
                "INSERT INTO events (uuid, created, project_id, branch_id, event, component, message, description,
                    type, run_id, configuration_id, object_type, object_id, object_name, params, results,
                    performance, context, token_id, token_name)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) RETURNING id",
            params![
                uuid,
                created,
                event.project_id,
                event.branch_id,
                event.event,
                event.component,
                event.message,
                event.description,
                event.kind,
                event.run_id,
                event.configuration_id,
                event.object_type,
                event.object_id,
                event.object_name,
                params,
                results,
                performance,
                context,
                event.token_id,
                event.token_name,
            ],
            |row| row.get(0),
        )
        .map(|id| (id, uuid.to_string()))
    }

    /// Deletes events created before `before`; returns how many.
    pub fn prune_events(&self, before: Timestamp) -> Result<usize> {
        self.conn().execute("DELETE FROM events WHERE created < ?1", params![before])
    }
}
