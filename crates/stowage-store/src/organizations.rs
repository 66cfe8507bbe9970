//! Maintainers, their organizations, the organizations' members and which projects they hold.

use stowage_types::time::Timestamp;
use stowage_types::Result;

use crate::records::{Maintainer, Organization, OrganizationChanges, Project, User};
use crate::sql::{params, Row};
use crate::{Reader, Writer};

const ORGANIZATION_COLUMNS: &str = "id, maintainer_id, name, crm_id, allow_auto_join, mfa_required, created";

fn maintainer(row: &Row<'_>) -> Result<Maintainer> {
    Ok(Maintainer { id: row.get(0)?, name: row.get(1)?, created: row.get(2)? })
}

fn organization(row: &Row<'_>) -> Result<Organization> {
    Ok(Organization {
        id: row.get(0)?,
        maintainer_id: row.get(1)?,
        name: row.get(2)?,
        crm_id: row.get(3)?,
        allow_auto_join: row.get(4)?,
        mfa_required: row.get(5)?,
        created: row.get(6)?,
    })
}

impl Reader<'_> {
    /// All maintainers, oldest first.
    pub fn maintainers(&self) -> Result<Vec<Maintainer>> {
        self.conn.rows("SELECT id, name, created FROM maintainers ORDER BY id", params![], maintainer)
    }

    /// One maintainer.
    pub fn maintainer(&self, id: i64) -> Result<Option<Maintainer>> {
        self.conn.row("SELECT id, name, created FROM maintainers WHERE id = ?1", params![id], maintainer)
    }

    /// Organizations, oldest first: all of them, or a maintainer's.
    pub fn organizations(&self, maintainer_id: Option<i64>) -> Result<Vec<Organization>> {
        match maintainer_id {
            Some(maintainer_id) => self.conn.rows(
                &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE maintainer_id = ?1 ORDER BY id"),
                params![maintainer_id],
                organization,
            ),
            None => self.conn.rows(
                &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations ORDER BY id"),
                params![],
                organization,
            ),
        }
    }

    /// One organization.
    pub fn organization(&self, id: i64) -> Result<Option<Organization>> {
        self.conn.row(
            &format!("SELECT {ORGANIZATION_COLUMNS} FROM organizations WHERE id = ?1"),
            params![id],
            organization,
        )
    }

    /// The projects of an organization, oldest first.
    pub fn organization_projects(&self, organization_id: i64) -> Result<Vec<Project>> {
        self.conn.rows(
            "SELECT id, name, created, organization_id FROM projects WHERE organization_id = ?1 ORDER BY id",
            params![organization_id],
            crate::projects::project,
        )
    }

    /// The members of an organization, in the order they joined.
    pub fn organization_members(&self, organization_id: i64) -> Result<Vec<User>> {
        self.conn.rows(
            "SELECT u.id, u.email, u.name, u.created FROM organization_members m JOIN users u ON u.id = m.user_id
              WHERE m.organization_id = ?1 ORDER BY m.created, u.id",
            params![organization_id],
            crate::projects::user,
        )
    }

    /// Whether a user is a member of an organization.
    pub fn is_organization_member(&self, organization_id: i64, user_id: i64) -> Result<bool> {
        let found = self.conn.row(
            "SELECT 1 FROM organization_members WHERE organization_id = ?1 AND user_id = ?2",
            params![organization_id, user_id],
            |row| row.get::<i64>(0),
        )?;
        Ok(found.is_some())
    }
}

impl Writer<'_> {
    /// Creates a maintainer.
    pub fn insert_maintainer(&self, name: &str, created: Timestamp) -> Result<Maintainer> {
        let id = self.conn().one(
            "INSERT INTO maintainers (name, created) VALUES (?1, ?2) RETURNING id",
            params![name, created],
            |row| row.get(0),
        )?;
        Ok(Maintainer { id, name: name.to_string(), created })
    }

    /// Renames a maintainer; false when there is none with this id.
    pub fn rename_maintainer(&self, id: i64, name: &str) -> Result<bool> {
        Ok(self.conn().execute("UPDATE maintainers SET name = ?2 WHERE id = ?1", params![id, name])? > 0)
    }

    /// Deletes a maintainer; callers check first that it holds no organization.
    pub fn delete_maintainer(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM maintainers WHERE id = ?1", params![id])? > 0)
    }

    /// Creates an organization under a maintainer.
    pub fn insert_organization(&self, maintainer_id: i64, name: &str, crm_id: &str, created: Timestamp) -> Result<i64> {
        self.conn().one(
            "INSERT INTO organizations (maintainer_id, name, crm_id, created) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            params![maintainer_id, name, crm_id, created],
            |row| row.get(0),
        )
    }

    /// Applies the changes given; false when there is no organization with this id.
    pub fn update_organization(&self, id: i64, changes: &OrganizationChanges) -> Result<bool> {
        let changed = self.conn().execute(
            "UPDATE organizations SET name = COALESCE(?2, name), maintainer_id = COALESCE(?3, maintainer_id),
                    crm_id = COALESCE(?4, crm_id), allow_auto_join = COALESCE(?5, allow_auto_join),
                    mfa_required = COALESCE(?6, mfa_required)
              WHERE id = ?1",
            params![
                id,
                changes.name.as_deref(),
                changes.maintainer_id,
                changes.crm_id.as_deref(),
                changes.allow_auto_join,
                changes.mfa_required
            ],
        )?;
        Ok(changed > 0)
    }

    /// Deletes an organization with its memberships; callers check first that it holds no project.
    pub fn delete_organization(&self, id: i64) -> Result<bool> {
        Ok(self.conn().execute("DELETE FROM organizations WHERE id = ?1", params![id])? > 0)
    }

    /// Makes a user a member of an organization; false when they already were.
    pub fn insert_organization_member(&self, organization_id: i64, user_id: i64, created: Timestamp) -> Result<bool> {
        let added = self.conn().execute(
            "INSERT INTO organization_members (organization_id, user_id, created) VALUES (?1, ?2, ?3)
                 ON CONFLICT (organization_id, user_id) DO NOTHING",
            params![organization_id, user_id, created],
        )?;
        Ok(added > 0)
    }

    /// Ends a user's membership of an organization; false when they were not a member.
    pub fn delete_organization_member(&self, organization_id: i64, user_id: i64) -> Result<bool> {
        let removed = self.conn().execute(
            "DELETE FROM organization_members WHERE organization_id = ?1 AND user_id = ?2",
            params![organization_id, user_id],
        )?;
        Ok(removed > 0)
    }

    /// Moves a project to another organization.
    pub fn set_project_organization(&self, project_id: i64, organization_id: i64) -> Result<bool> {
        let moved = self
            .conn()
            .execute("UPDATE projects SET organization_id = ?2 WHERE id = ?1", params![project_id, organization_id])?;
        Ok(moved > 0)
    }
}
