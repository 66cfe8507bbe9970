//! Which rows a preview or an export reads: the client's selection, checked against the table.

use serde::{Deserialize, Serialize};
use stowage_store::table_data::{Cast, Filter, FilterOp, RowQuery};
use stowage_types::auth::{Granted, ReadTable};
use stowage_types::{time, Error, Result};

use super::{open_current, when, PREVIEW_DEFAULT_LIMIT, PREVIEW_MAX_LIMIT};
use crate::records::TableRecord;
use crate::Ctx;

/// Filters and projection as clients give them for previews and exports.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Selection {
    pub columns: Vec<String>,
    pub changed_since: Option<String>,
    pub changed_until: Option<String>,
    pub where_column: Option<String>,
    pub where_values: Vec<String>,
    pub where_operator: Option<String>,
    pub where_filters: Vec<WhereFilter>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<i64>,
}

/// One `whereFilters[]` item as the client sent it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct WhereFilter {
    pub column: String,
    /// `eq`, `ne`, `gt`, `ge`, `lt` or `le`.
    pub operator: String,
    pub values: Vec<String>,
    /// `INTEGER`, `BIGINT`, `DOUBLE`, `REAL` or `DECIMAL`: compare as numbers.
    pub data_type: Option<String>,
}

/// One `orderBy[]` item as the client sent it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct OrderBy {
    pub column: String,
    /// `ASC` or `DESC`.
    pub order: String,
    pub data_type: Option<String>,
}

fn cast_of(data_type: Option<&str>) -> Result<Option<Cast>> {
    match data_type.map(str::to_uppercase).as_deref() {
        None | Some("") => Ok(None),
        Some("INTEGER" | "BIGINT") => Ok(Some(Cast::Integer)),
        Some("DOUBLE" | "REAL" | "DECIMAL") => Ok(Some(Cast::Real)),
        Some(other) => Err(Error::validation(format!(
            "Unknown dataType \"{other}\": use INTEGER, BIGINT, DOUBLE, REAL or DECIMAL."
        ))),
    }
}

/// Turns a selection into a row query, checking every column against the table.
pub(super) fn row_query(table: &TableRecord, selection: Selection) -> Result<RowQuery> {
    let known = |column: &str, what: &str| -> Result<String> {
        table.columns.iter().find(|c| c.eq_ignore_ascii_case(column)).cloned().ok_or_else(|| {
            Error::validation(format!(
                "The column \"{column}\" given in \"{what}\" is not a column of the table {}.",
                table.id
            ))
        })
    };
    let columns: Vec<String> = selection.columns.iter().map(|c| known(c, "columns")).collect::<Result<_>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(again) = columns.iter().find(|column| !seen.insert(column.as_str())) {
        return Err(Error::validation(format!("The column \"{again}\" is given more than once in \"columns\".")));
    }
    let now = time::now();
    let mut query = RowQuery {
        columns,
        changed_since: selection
            .changed_since
            .filter(|v| !v.is_empty())
            .map(|v| when::parse("changedSince", &v, now))
            .transpose()?,
        changed_until: selection
            .changed_until
            .filter(|v| !v.is_empty())
            .map(|v| when::parse("changedUntil", &v, now))
            .transpose()?,
        limit: selection.limit,
        ..RowQuery::default()
    };
    if let Some(column) = selection.where_column.filter(|c| !c.is_empty()) {
        let op = match selection.where_operator.as_deref().unwrap_or("eq") {
            "" | "eq" => FilterOp::Eq,
            "ne" | "neq" => FilterOp::Ne,
            other => {
                return Err(Error::validation(format!(
                    "Parameter \"whereOperator\" must be eq, ne or neq, \"{other}\" given."
                )))
            }
        };
        query.filters.push(Filter {
            column: known(&column, "whereColumn")?,
            op,
            values: selection.where_values,
            cast: None,
        });
    }
    for WhereFilter { column, operator, values, data_type } in selection.where_filters {
        let op = match operator.as_str() {
            "" | "eq" => FilterOp::Eq,
            "ne" | "neq" => FilterOp::Ne,
            "gt" => FilterOp::Gt,
            "ge" => FilterOp::Ge,
            "lt" => FilterOp::Lt,
            "le" => FilterOp::Le,
            other => {
                return Err(Error::validation(format!(
                    "Unknown whereFilters operator \"{other}\": use eq, ne, gt, ge, lt or le."
                )))
            }
        };
        if !matches!(op, FilterOp::Eq | FilterOp::Ne) && values.len() != 1 {
            return Err(Error::validation(format!("The operator \"{operator}\" takes exactly one value.")));
        }
        query.filters.push(Filter {
            column: known(&column, "whereFilters")?,
            op,
            values,
            cast: cast_of(data_type.as_deref())?,
        });
    }
    for OrderBy { column, order, data_type } in selection.order_by {
        let descending = match order.to_uppercase().as_str() {
            "" | "ASC" => false,
            "DESC" => true,
            other => return Err(Error::validation(format!("Unknown orderBy order \"{other}\": use ASC or DESC."))),
        };
        query.order_by.push((known(&column, "orderBy")?, descending, cast_of(data_type.as_deref())?));
    }
    // Stored values never hold a NUL byte (the CSV reader refuses it), and text cannot carry one
    // to the database, so a filter value that does is the client's mistake.
    if query.filters.iter().flat_map(|filter| &filter.values).any(|value| value.contains('\0')) {
        return Err(Error::validation("A filter value holds a NUL byte (0x00), which no stored value holds."));
    }
    Ok(query)
}

/// The first rows of a table: (columns, rows).
pub async fn preview(
    ctx: &Ctx,
    grant: &Granted<ReadTable>,
    mut selection: Selection,
) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let limit = selection.limit.unwrap_or(PREVIEW_DEFAULT_LIMIT);
    if !(1..=PREVIEW_MAX_LIMIT).contains(&limit) {
        return Err(Error::validation(format!(
            "Parameter \"limit\" must be between 1 and {PREVIEW_MAX_LIMIT}, {limit} given."
        )));
    }
    selection.limit = Some(limit);
    let (table, data) = open_current(ctx, grant).await?;
    let query = row_query(&table, selection)?;
    let columns = if query.columns.is_empty() { table.columns.clone() } else { query.columns.clone() };
    let rows = tokio::task::spawn_blocking(move || -> Result<Vec<Vec<String>>> {
        let mut rows = Vec::new();
        data.query(&query, &mut |values| {
            rows.push(values.iter().map(|v| v.to_string()).collect());
            Ok(())
        })?;
        Ok(rows)
    })
    .await
    .map_err(Error::internal)??;
    Ok((columns, rows))
}
