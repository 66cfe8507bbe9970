//! Triggers: a configuration run, as a token, once every watched table has been imported to.

use stowage_types::auth::TokenRef;
use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::records::{TriggerRecord, TriggerTable};
use crate::sql::{params, Params, Row};
use crate::{Reader, Writer};

const COLUMNS: &str = "tr.id, tr.project_id, tr.run_with_token_id, tr.component_id, tr.configuration_id,
    tr.cool_down_minutes, tr.last_run, tr.creator_token_id, tr.creator_token_description";

fn trigger(row: &Row<'_>) -> Result<TriggerRecord> {
    Ok(TriggerRecord {
        id: row.get(0)?,
        project_id: row.get(1)?,
        run_with_token_id: row.get(2)?,
        component_id: row.get(3)?,
        configuration_id: row.get(4)?,
        cool_down_minutes: row.get(5)?,
        last_run: row.get(6)?,
        creator: TokenRef { id: row.get(7)?, description: row.get(8)? },
        tables: vec![],
    })
}

/// Which triggers a read selects; `?1..?4` of [`Reader::load_triggers`].
const FILTER: &str = "(CAST(?1 AS BIGINT) IS NULL OR tr.project_id = ?1)
    AND (CAST(?2 AS BIGINT) IS NULL OR tr.id = ?2)
    AND (CAST(?3 AS BIGINT) IS NULL OR tr.last_run + tr.cool_down_minutes * 60 <= ?3)
    AND (CAST(?4 AS BIGINT) IS NULL OR tr.run_with_token_id = ?4)";

impl Reader<'_> {
    /// The triggers `FILTER` selects, each with its watched tables and their state now.
    fn load_triggers(&self, params: Params<'_>) -> Result<Vec<TriggerRecord>> {
        let mut triggers = self.conn.rows(
            &format!("SELECT {COLUMNS} FROM triggers tr WHERE {FILTER} ORDER BY tr.id"),
            params,
            trigger,
        )?;
        let tables = self.conn.rows(
            &format!(
                "SELECT tt.trigger_id, tt.table_id, tt.seen_pk, tt.seen_imports, t.pk, t.imports
                   FROM trigger_tables tt JOIN triggers tr ON tr.id = tt.trigger_id
                   LEFT JOIN tables t ON t.project_id = tr.project_id AND t.id = tt.table_id
                  WHERE {FILTER} ORDER BY tt.trigger_id, tt.position"
            ),
            params,
            |row| {
                let current = match (row.get::<Option<i64>>(4)?, row.get::<Option<i64>>(5)?) {
                    (Some(pk), Some(imports)) => Some((pk, imports)),
                    _ => None,
                };
                let table =
                    TriggerTable { table_id: row.get(1)?, seen_pk: row.get(2)?, seen_imports: row.get(3)?, current };
                Ok((row.get::<i64>(0)?, table))
            },
        )?;
        for (trigger_id, table) in tables {
            if let Some(trigger) = triggers.iter_mut().find(|trigger| trigger.id == trigger_id) {
                trigger.tables.push(table);
            }
        }
        Ok(triggers)
    }

    /// The triggers of a project, oldest first.
    pub fn triggers(&self, project_id: i64) -> Result<Vec<TriggerRecord>> {
        self.load_triggers(params![Some(project_id), None::<i64>, None::<i64>, None::<i64>])
    }

    /// One trigger of a project.
    pub fn trigger(&self, project_id: i64, id: i64) -> Result<Option<TriggerRecord>> {
        Ok(self.load_triggers(params![Some(project_id), Some(id), None::<i64>, None::<i64>])?.pop())
    }

    /// Triggers of every project whose cool-down has passed at `now`.
    pub fn cooled_down_triggers(&self, now: Timestamp) -> Result<Vec<TriggerRecord>> {
        self.load_triggers(params![None::<i64>, None::<i64>, Some(now), None::<i64>])
    }

    /// Triggers that run as the token `token_id`.
    pub fn triggers_run_with(&self, token_id: i64) -> Result<Vec<TriggerRecord>> {
        self.load_triggers(params![None::<i64>, None::<i64>, None::<i64>, Some(token_id)])
    }
}

impl Writer<'_> {
    /// Stores a new trigger with its tables (their state now is what it has seen); returns its id.
    pub fn insert_trigger(&self, trigger: &TriggerRecord) -> Result<i64> {
        let id = self.conn().one(
            "INSERT INTO triggers (project_id, run_with_token_id, component_id, configuration_id, cool_down_minutes,
                last_run, creator_token_id, creator_token_description)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
            params![
                trigger.project_id,
                trigger.run_with_token_id,
                trigger.component_id,
                trigger.configuration_id,
                trigger.cool_down_minutes,
                trigger.last_run,
                trigger.creator.id,
                trigger.creator.description,
            ],
            |row| row.get(0),
        )?;
        self.set_trigger_tables(id, &trigger.tables)?;
        Ok(id)
    }

    /// Changes what a trigger runs, as whom, when and on which tables.
    pub fn update_trigger(&self, trigger: &TriggerRecord) -> Result<()> {
        self.conn().execute(
            "UPDATE triggers SET run_with_token_id = ?2, component_id = ?3, configuration_id = ?4,
                cool_down_minutes = ?5 WHERE id = ?1",
            params![
                trigger.id,
                trigger.run_with_token_id,
                trigger.component_id,
                trigger.configuration_id,
                trigger.cool_down_minutes,
            ],
        )?;
        self.conn().execute("DELETE FROM trigger_tables WHERE trigger_id = ?1", params![trigger.id])?;
        self.set_trigger_tables(trigger.id, &trigger.tables)
    }

    fn set_trigger_tables(&self, id: i64, tables: &[TriggerTable]) -> Result<()> {
        for (position, table) in tables.iter().enumerate() {
            self.conn().execute(
                "INSERT INTO trigger_tables (trigger_id, position, table_id, seen_pk, seen_imports)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, position, table.table_id, table.seen_pk, table.seen_imports],
            )?;
        }
        Ok(())
    }

    /// Records a run of a trigger at `at`: the tables' state now becomes what it has seen.
    pub fn mark_trigger_run(&self, trigger: &TriggerRecord, at: Timestamp) -> Result<()> {
        self.conn().execute("UPDATE triggers SET last_run = ?2 WHERE id = ?1", params![trigger.id, at])?;
        for table in &trigger.tables {
            let (pk, imports) = table.current.unzip();
            self.conn().execute(
                "UPDATE trigger_tables SET seen_pk = ?3, seen_imports = ?4 WHERE trigger_id = ?1 AND table_id = ?2",
                params![trigger.id, table.table_id, pk, imports.unwrap_or(0)],
            )?;
        }
        Ok(())
    }

    /// Deletes a trigger; false when it did not exist.
    pub fn delete_trigger(&self, project_id: i64, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM triggers WHERE project_id = ?1 AND id = ?2", params![project_id, id])? > 0)
    }
}
