//! Component configurations and their rows.

use stowage_types::auth::TokenRef;
use stowage_types::{Code, Error, Result};

use crate::records::{ConfigRecord, ConfigVersionRecord, RowRecord};
use crate::sql::{params, Row};
use crate::{json, json_text, Reader, Writer};

const CONFIG_COLUMNS: &str =
    "pk, project_id, component_id, id, name, description, configuration, state, rows_sort_order,
    is_disabled, is_deleted, version, change_description, created, creator_token_id, creator_token_description,
    version_created, version_token_id, version_token_description";

const ROW_COLUMNS: &str = "pk, configuration_pk, id, name, description, configuration, state, is_disabled, version,
    change_description, created, creator_token_id, creator_token_description";

fn token_ref(id: Option<i64>, description: Option<String>) -> Option<TokenRef> {
    id.map(|id| TokenRef { id, description: description.unwrap_or_default() })
}

fn config(row: &Row<'_>) -> Result<(ConfigRecord, [String; 3])> {
    let record = ConfigRecord {
        pk: row.get(0)?,
        project_id: row.get(1)?,
        component_id: row.get(2)?,
        id: row.get(3)?,
        name: row.get(4)?,
        description: row.get(5)?,
        is_disabled: row.get(9)?,
        is_deleted: row.get(10)?,
        version: row.get(11)?,
        change_description: row.get(12)?,
        created: row.get(13)?,
        creator: token_ref(row.get(14)?, row.get(15)?),
        version_created: row.get(16)?,
        version_creator: token_ref(row.get(17)?, row.get(18)?),
        ..ConfigRecord::default()
    };
    Ok((record, [row.get(6)?, row.get(7)?, row.get(8)?]))
}

fn finish_config((mut record, [configuration, state, order]): (ConfigRecord, [String; 3])) -> Result<ConfigRecord> {
    record.configuration = json(&configuration)?;
    record.state = json(&state)?;
    record.rows_sort_order = serde_json::from_str(&order).map_err(Error::internal)?;
    Ok(record)
}

fn config_row(row: &Row<'_>) -> Result<(RowRecord, [String; 2])> {
    let record = RowRecord {
        pk: row.get(0)?,
        configuration_pk: row.get(1)?,
        id: row.get(2)?,
        name: row.get(3)?,
        description: row.get(4)?,
        is_disabled: row.get(7)?,
        version: row.get(8)?,
        change_description: row.get(9)?,
        created: row.get(10)?,
        creator: token_ref(row.get(11)?, row.get(12)?),
        ..RowRecord::default()
    };
    Ok((record, [row.get(5)?, row.get(6)?]))
}

fn finish_row((mut record, [configuration, state]): (RowRecord, [String; 2])) -> Result<RowRecord> {
    record.configuration = json(&configuration)?;
    record.state = json(&state)?;
    Ok(record)
}

impl Reader<'_> {
    /// Configurations of a project, optionally of one component, in the trash or not.
    pub fn configurations(
        &self,
        project_id: i64,
        component_id: Option<&str>,
        deleted: bool,
    ) -> Result<Vec<ConfigRecord>> {
        let rows = self.conn.rows(
            &format!(
                "SELECT {CONFIG_COLUMNS} FROM configurations
                 WHERE project_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR component_id = ?2) AND is_deleted = ?3 ORDER BY component_id, pk"
            ),
            params![project_id, component_id, deleted],
            config,
        )?;
        rows.into_iter().map(finish_config).collect()
    }

    /// One configuration, in the trash or not.
    pub fn configuration(&self, project_id: i64, component_id: &str, id: &str) -> Result<Option<ConfigRecord>> {
        self.conn
            .row(
                &format!("SELECT {CONFIG_COLUMNS} FROM configurations WHERE project_id = ?1 AND component_id = ?2 AND id = ?3"),
                params![project_id, component_id, id],
                config,
            )?
            .map(finish_config)
            .transpose()
    }

    /// Rows of a configuration in creation order.
    pub fn configuration_rows(&self, configuration_pk: i64) -> Result<Vec<RowRecord>> {
        let rows = self.conn.rows(
            &format!("SELECT {ROW_COLUMNS} FROM configuration_rows WHERE configuration_pk = ?1 ORDER BY pk"),
            params![configuration_pk],
            config_row,
        )?;
        rows.into_iter().map(finish_row).collect()
    }
}

const VERSION_COLUMNS: &str =
    "configuration_pk, version, name, change_description, created, creator_token_id, creator_token_description, snapshot";

fn config_version(row: &Row<'_>) -> Result<(ConfigVersionRecord, String)> {
    let record = ConfigVersionRecord {
        configuration_pk: row.get(0)?,
        version: row.get(1)?,
        name: row.get(2)?,
        change_description: row.get(3)?,
        created: row.get(4)?,
        creator: token_ref(row.get(5)?, row.get(6)?),
        ..ConfigVersionRecord::default()
    };
    Ok((record, row.get(7)?))
}

fn finish_version((mut record, snapshot): (ConfigVersionRecord, String)) -> Result<ConfigVersionRecord> {
    record.snapshot = json(&snapshot)?;
    Ok(record)
}

impl Reader<'_> {
    /// The kept versions of a configuration, newest first.
    pub fn configuration_versions(&self, configuration_pk: i64) -> Result<Vec<ConfigVersionRecord>> {
        let rows = self.conn.rows(
            &format!("SELECT {VERSION_COLUMNS} FROM configuration_versions WHERE configuration_pk = ?1 ORDER BY version DESC"),
            params![configuration_pk],
            config_version,
        )?;
        rows.into_iter().map(finish_version).collect()
    }

    /// One kept version of a configuration.
    pub fn configuration_version(&self, configuration_pk: i64, version: i64) -> Result<Option<ConfigVersionRecord>> {
        self.conn
            .row(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM configuration_versions WHERE configuration_pk = ?1 AND version = ?2"
                ),
                params![configuration_pk, version],
                config_version,
            )?
            .map(finish_version)
            .transpose()
    }
}

impl Writer<'_> {
    /// Keeps a version of a configuration; one already kept stays as it is.
    pub fn insert_configuration_version(&self, record: &ConfigVersionRecord) -> Result<()> {
        self.conn().execute(
            &format!(
                "INSERT INTO configuration_versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (configuration_pk, version) DO NOTHING"
            ),
            params![
                record.configuration_pk,
                record.version,
                record.name,
                record.change_description,
                record.created,
                record.creator.as_ref().map(|t| t.id),
                record.creator.as_ref().map(|t| t.description.as_str()),
                json_text(&record.snapshot)?,
            ],
        )?;
        Ok(())
    }

    /// The next automatic id for configurations and rows, from a counter in the catalog: unique
    /// across the stack and never reused.
    pub fn next_config_id(&self) -> Result<i64> {
        let current: i64 = self.stack_meta("next_config_id")?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let next = current + 1;
        self.set_stack_meta("next_config_id", &next.to_string())?;
        Ok(next)
    }

    /// Stores a new configuration; returns its internal key.
    pub fn insert_configuration(&self, record: &ConfigRecord) -> Result<i64> {
        self.conn().insert_returning(
                &format!("INSERT INTO configurations ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18) RETURNING pk", &CONFIG_COLUMNS["pk, ".len()..]),
                params![
                    record.project_id,
                    record.component_id,
                    record.id,
                    record.name,
                    record.description,
                    json_text(&record.configuration)?,
                    json_text(&record.state)?,
                    json_text(&serde_json::json!(record.rows_sort_order))?,
                    record.is_disabled,
                    record.is_deleted,
                    record.version,
                    record.change_description,
                    record.created,
                    record.creator.as_ref().map(|t| t.id),
                    record.creator.as_ref().map(|t| t.description.as_str()),
                    record.version_created,
                    record.version_creator.as_ref().map(|t| t.id),
                    record.version_creator.as_ref().map(|t| t.description.as_str()),
                ],
            || {
                let (component, id) = (&record.component_id, &record.id);
                Error::new(
                    Code::ConfigurationAlreadyExists,
                    format!("Configuration \"{id}\" of component \"{component}\" already exists."),
                )
            })
    }

    /// Writes every changeable field of a configuration.
    pub fn update_configuration(&self, record: &ConfigRecord) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE configurations SET name = ?2, description = ?3, configuration = ?4, state = ?5, rows_sort_order = ?6,
                    is_disabled = ?7, is_deleted = ?8, version = ?9, change_description = ?10, version_created = ?11,
                    version_token_id = ?12, version_token_description = ?13
                 WHERE pk = ?1",
                params![
                    record.pk,
                    record.name,
                    record.description,
                    json_text(&record.configuration)?,
                    json_text(&record.state)?,
                    json_text(&serde_json::json!(record.rows_sort_order))?,
                    record.is_disabled,
                    record.is_deleted,
                    record.version,
                    record.change_description,
                    record.version_created,
                    record.version_creator.as_ref().map(|t| t.id),
                    record.version_creator.as_ref().map(|t| t.description.as_str()),
                ],
            )?;
        Ok(())
    }

    /// Deletes a configuration for good, with its rows and metadata.
    pub fn purge_configuration(&self, record: &ConfigRecord) -> Result<()> {
        self.conn().execute(
            "DELETE FROM metadata WHERE project_id = ?1 AND object_type = 'configuration' AND object_id = ?2",
            params![record.project_id, format!("{}/{}", record.component_id, record.id)],
        )?;
        self.conn().execute("DELETE FROM configurations WHERE pk = ?1", params![record.pk])?;
        Ok(())
    }

    /// Stores a new row; returns its internal key.
    pub fn insert_configuration_row(&self, record: &RowRecord) -> Result<i64> {
        self.conn().insert_returning(
                &format!("INSERT INTO configuration_rows ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING pk", &ROW_COLUMNS["pk, ".len()..]),
                params![
                    record.configuration_pk,
                    record.id,
                    record.name,
                    record.description,
                    json_text(&record.configuration)?,
                    json_text(&record.state)?,
                    record.is_disabled,
                    record.version,
                    record.change_description,
                    record.created,
                    record.creator.as_ref().map(|t| t.id),
                    record.creator.as_ref().map(|t| t.description.as_str()),
                ],
            || Error::new(Code::ConfigurationAlreadyExists, format!("Row \"{}\" already exists.", record.id)))
    }

    /// Writes every changeable field of a row.
    pub fn update_configuration_row(&self, record: &RowRecord) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE configuration_rows SET name = ?2, description = ?3, configuration = ?4, state = ?5, is_disabled = ?6,
                    version = ?7, change_description = ?8 WHERE pk = ?1",
                params![
                    record.pk,
                    record.name,
                    record.description,
                    json_text(&record.configuration)?,
                    json_text(&record.state)?,
                    record.is_disabled,
                    record.version,
                    record.change_description,
                ],
            )?;
        Ok(())
    }

    /// Deletes a row.
    pub fn delete_configuration_row(&self, pk: i64) -> Result<()> {
        self.conn().execute("DELETE FROM configuration_rows WHERE pk = ?1", params![pk])?;
        Ok(())
    }
}
