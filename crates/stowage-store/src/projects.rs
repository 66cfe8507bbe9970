//! Stack metadata, manage tokens, projects with their branches, users and memberships, console
//! sessions and failed sign-ins.

use stowage_types::auth::Role;
use stowage_types::time::Timestamp;
use stowage_types::{Error, Result};

use crate::records::{Branch, ConsoleSessionRecord, ManageToken, Member, Project, User};
use crate::sql::{params, Row};
use crate::{Reader, Writer};

pub(crate) fn project(row: &Row<'_>) -> Result<Project> {
    Ok(Project { id: row.get(0)?, name: row.get(1)?, created: row.get(2)?, organization_id: row.get(3)? })
}

fn branch(row: &Row<'_>) -> Result<Branch> {
    Ok(Branch {
        id: row.get(0)?,
        project_id: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        is_default: row.get(4)?,
        created: row.get(5)?,
    })
}

pub(crate) fn user(row: &Row<'_>) -> Result<User> {
    Ok(User { id: row.get(0)?, email: row.get(1)?, name: row.get(2)?, created: row.get(3)? })
}

const BRANCH_COLUMNS: &str = "id, project_id, name, description, is_default, created";

impl Reader<'_> {
    /// A value of the stack's own key-value table.
    pub fn stack_meta(&self, key: &str) -> Result<Option<String>> {
        self.conn.row("SELECT value FROM stack_meta WHERE key = ?1", params![key], |row| row.get(0))
    }

    /// The manage token whose secret hashes to `secret_hash`.
    pub fn manage_token_by_hash(&self, secret_hash: &str) -> Result<Option<ManageToken>> {
        self.conn.row(
            "SELECT id, description, created FROM manage_tokens WHERE secret_hash = ?1",
            params![secret_hash],
            |row| Ok(ManageToken { id: row.get(0)?, description: row.get(1)?, created: row.get(2)? }),
        )
    }

    /// All projects, oldest first.
    pub fn projects(&self) -> Result<Vec<Project>> {
        self.conn.rows("SELECT id, name, created, organization_id FROM projects ORDER BY id", params![], project)
    }

    /// One project.
    pub fn project(&self, id: i64) -> Result<Option<Project>> {
        self.conn.row("SELECT id, name, created, organization_id FROM projects WHERE id = ?1", params![id], project)
    }

    /// A project with the ids of its buckets, in one statement (what a token's view shows).
    pub fn project_with_bucket_ids(&self, id: i64) -> Result<Option<(Project, Vec<String>)>> {
        let rows = self.conn.rows(
            "SELECT p.id, p.name, p.created, p.organization_id, b.id FROM projects p LEFT JOIN buckets b ON b.project_id = p.id
              WHERE p.id = ?1 ORDER BY b.id",
            params![id],
            |row| Ok((project(row)?, row.get::<Option<String>>(4)?)),
        )?;
        let mut rows = rows.into_iter();
        let Some((project, first)) = rows.next() else { return Ok(None) };
        let bucket_ids = first.into_iter().chain(rows.filter_map(|(_, bucket)| bucket)).collect();
        Ok(Some((project, bucket_ids)))
    }

    /// The project's default branch. Every project has one from its creation.
    pub fn default_branch(&self, project_id: i64) -> Result<Branch> {
        self.conn.one(
            &format!("SELECT {BRANCH_COLUMNS} FROM branches WHERE project_id = ?1 AND is_default = 1"),
            params![project_id],
            branch,
        )
    }

    /// All branches of a project, default first.
    pub fn branches(&self, project_id: i64) -> Result<Vec<Branch>> {
        self.conn.rows(
            &format!("SELECT {BRANCH_COLUMNS} FROM branches WHERE project_id = ?1 ORDER BY is_default DESC, id"),
            params![project_id],
            branch,
        )
    }

    /// One branch of a project.
    pub fn branch(&self, project_id: i64, id: i64) -> Result<Option<Branch>> {
        self.conn.row(
            &format!("SELECT {BRANCH_COLUMNS} FROM branches WHERE project_id = ?1 AND id = ?2"),
            params![project_id, id],
            branch,
        )
    }

    /// A user by email (emails are compared as stored: callers lowercase them first).
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.conn.row("SELECT id, email, name, created FROM users WHERE email = ?1", params![email], user)
    }

    /// A user by id.
    pub fn users_by_id(&self, id: i64) -> Result<Option<User>> {
        self.conn.row("SELECT id, email, name, created FROM users WHERE id = ?1", params![id], user)
    }

    /// The stored password hash of a user, if one was set.
    pub fn user_password_hash(&self, user_id: i64) -> Result<Option<String>> {
        self.conn
            .row("SELECT password_hash FROM users WHERE id = ?1", params![user_id], |row| row.get(0))
            .map(Option::flatten)
    }

    /// Projects a user is a member of, with the role.
    pub fn projects_of_user(&self, user_id: i64) -> Result<Vec<(Project, Role)>> {
        let rows = self.conn.rows(
            "SELECT p.id, p.name, p.created, p.organization_id, m.role FROM project_members m JOIN projects p ON p.id = m.project_id
                 WHERE m.user_id = ?1 ORDER BY p.id",
            params![user_id],
            |row| Ok((project(row)?, row.get::<String>(4)?)),
        )?;
        let mut out = Vec::new();
        for (project, role) in rows {
            out.push((project, Role::parse(&role).ok_or_else(|| Error::internal(format!("unknown role {role}")))?));
        }
        Ok(out)
    }

    /// How many console sessions have not expired at `now`.
    pub fn active_console_sessions(&self, now: Timestamp) -> Result<i64> {
        let count = self
            .conn
            .row("SELECT COUNT(*) FROM console_sessions WHERE expires > ?1", params![now], |row| row.get(0))?;
        Ok(count.unwrap_or(0))
    }

    /// A console session by the hash of its cookie.
    pub fn console_session(&self, id_hash: &str) -> Result<Option<ConsoleSessionRecord>> {
        self.conn.row(
            "SELECT user_id, token_id, csrf, expires, credential_hash FROM console_sessions WHERE id_hash = ?1",
            params![id_hash],
            |row| {
                Ok(ConsoleSessionRecord {
                    user_id: row.get(0)?,
                    token_id: row.get(1)?,
                    csrf: row.get(2)?,
                    expires: row.get(3)?,
                    credential_hash: row.get(4)?,
                })
            },
        )
    }

    /// Members of a project, in the order they joined.
    pub fn members(&self, project_id: i64) -> Result<Vec<Member>> {
        let rows = self.conn.rows(
            "SELECT u.id, u.email, u.name, u.created, m.role, m.created
                 FROM project_members m JOIN users u ON u.id = m.user_id
                 WHERE m.project_id = ?1 ORDER BY m.created, u.id",
            params![project_id],
            |row| Ok((user(row)?, row.get::<String>(4)?, row.get::<Timestamp>(5)?)),
        )?;
        let mut members = Vec::new();
        for (user, role, created) in rows {
            let role = Role::parse(&role).ok_or_else(|| Error::internal(format!("unknown role {role}")))?;
            members.push(Member { user, role, created });
        }
        Ok(members)
    }
}

impl Writer<'_> {
    /// Sets a value of the stack's key-value table.
    pub fn set_stack_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn().execute(
            "INSERT INTO stack_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Stores a manage token by the hash of its secret.
    pub fn insert_manage_token(&self, description: &str, secret_hash: &str, created: Timestamp) -> Result<i64> {
        self.conn().one(
            "INSERT INTO manage_tokens (description, secret_hash, created) VALUES (?1, ?2, ?3) RETURNING id",
            params![description, secret_hash, created],
            |row| row.get(0),
        )
    }

    /// Creates a project in an organization, with its default branch `Main`.
    pub fn insert_project(&self, name: &str, organization_id: i64, created: Timestamp) -> Result<Project> {
        let id = self.conn().one(
            "INSERT INTO projects (name, organization_id, created) VALUES (?1, ?2, ?3) RETURNING id",
            params![name, organization_id, created],
            |row| row.get(0),
        )?;
        self.conn().execute(
            "INSERT INTO branches (project_id, name, description, is_default, created) VALUES (?1, 'Main', '', 1, ?2)",
            params![id, created],
        )?;
        Ok(Project { id, name: name.to_string(), created, organization_id })
    }

    /// Deletes a project and everything it owns.
    pub fn delete_project(&self, id: i64) -> Result<bool> {
        let deleted = self.conn().execute("DELETE FROM projects WHERE id = ?1", params![id])?;
        Ok(deleted > 0)
    }

    /// Creates a user.
    pub fn insert_user(&self, email: &str, name: &str, created: Timestamp) -> Result<User> {
        let id = self.conn().one(
            "INSERT INTO users (email, name, created) VALUES (?1, ?2, ?3) RETURNING id",
            params![email, name, created],
            |row| row.get(0),
        )?;
        Ok(User { id, email: email.to_string(), name: name.to_string(), created })
    }

    /// Adds a user to a project with a role.
    pub fn insert_member(&self, project_id: i64, user_id: i64, role: Role, created: Timestamp) -> Result<()> {
        self.conn().execute(
            "INSERT INTO project_members (project_id, user_id, role, created) VALUES (?1, ?2, ?3, ?4)",
            params![project_id, user_id, role.as_str(), created],
        )?;
        Ok(())
    }

    /// Sets a user's password hash.
    pub fn set_user_password_hash(&self, user_id: i64, hash: &str) -> Result<()> {
        self.conn().execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![user_id, hash])?;
        Ok(())
    }

    /// Stores a console session, bound to the hash of the credential it was opened with.
    pub fn insert_console_session(
        &self,
        id_hash: &str,
        (user_id, token_id, credential_hash): (Option<i64>, Option<i64>, &str),
        csrf: &str,
        (created, expires): (Timestamp, Timestamp),
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO console_sessions (id_hash, user_id, token_id, credential_hash, csrf, created, expires)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id_hash, user_id, token_id, credential_hash, csrf, created, expires],
        )?;
        Ok(())
    }

    /// Ends a console session, and any that expired.
    pub fn delete_console_session(&self, id_hash: &str, now: Timestamp) -> Result<()> {
        self.conn()
            .execute("DELETE FROM console_sessions WHERE id_hash = ?1 OR expires <= ?2", params![id_hash, now])?;
        Ok(())
    }

    /// Ends every console session a person opened with their password.
    pub fn delete_user_console_sessions(&self, user_id: i64) -> Result<()> {
        self.conn().execute("DELETE FROM console_sessions WHERE user_id = ?1", params![user_id])?;
        Ok(())
    }

    /// Removes a user from a project. Returns false when the user was not a member.
    pub fn delete_member(&self, project_id: i64, user_id: i64) -> Result<bool> {
        let deleted = self.conn().execute(
            "DELETE FROM project_members WHERE project_id = ?1 AND user_id = ?2",
            params![project_id, user_id],
        )?;
        Ok(deleted > 0)
    }
}

impl Reader<'_> {
    /// Answers when the catalog answers (readiness checks).
    pub fn ping(&self) -> Result<()> {
        self.conn.one("SELECT 1", params![], |_| Ok(()))
    }

    /// Failed sign-ins of an email in a row: (count, unix milliseconds of the last one).
    pub fn sign_in_failures(&self, email: &str) -> Result<Option<(u32, i64)>> {
        self.conn.row("SELECT count, last_ms FROM sign_in_failures WHERE email = ?1", params![email], |row| {
            Ok((u32::try_from(row.get::<i64>(0)?).unwrap_or(u32::MAX), row.get(1)?))
        })
    }
}

impl Writer<'_> {
    /// Counts one more failed sign-in of an email, at `at_ms`.
    pub fn record_sign_in_failure(&self, email: &str, at_ms: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO sign_in_failures (email, count, last_ms) VALUES (?1, 1, ?2)
                 ON CONFLICT (email) DO UPDATE SET count = sign_in_failures.count + 1, last_ms = excluded.last_ms",
            params![email, at_ms],
        )?;
        Ok(())
    }

    /// Forgets an email's failed sign-ins (after a success).
    pub fn clear_sign_in_failures(&self, email: &str) -> Result<()> {
        self.conn().execute("DELETE FROM sign_in_failures WHERE email = ?1", params![email])?;
        Ok(())
    }

    /// Forgets failures older than `before_ms`; returns how many emails.
    pub fn prune_sign_in_failures(&self, before_ms: i64) -> Result<usize> {
        self.conn().execute("DELETE FROM sign_in_failures WHERE last_ms < ?1", params![before_ms])
    }
}

impl Reader<'_> {
    /// The person a password link is for, while it can still be used (not used, not expired).
    pub fn password_link_user(&self, link_hash: &str, now: Timestamp) -> Result<Option<User>> {
        self.conn.row(
            "SELECT u.id, u.email, u.name, u.created FROM password_links l JOIN users u ON u.id = l.user_id
             WHERE l.link_hash = ?1 AND l.used IS NULL AND l.expires > ?2",
            params![link_hash, now],
            user,
        )
    }
}

impl Writer<'_> {
    /// Stores a one-time password link of a user (by the hash of its secret part).
    pub fn insert_password_link(
        &self,
        user_id: i64,
        link_hash: &str,
        created: Timestamp,
        expires: Timestamp,
    ) -> Result<()> {
        self.conn().execute(
            "INSERT INTO password_links (user_id, link_hash, created, expires) VALUES (?1, ?2, ?3, ?4)",
            params![user_id, link_hash, created, expires],
        )?;
        Ok(())
    }

    /// Uses a password link: the user it is for, once; `None` when it is unknown, used or expired.
    pub fn use_password_link(&self, link_hash: &str, now: Timestamp) -> Result<Option<i64>> {
        self.conn().row(
            "UPDATE password_links SET used = ?2 WHERE link_hash = ?1 AND used IS NULL AND expires > ?2
             RETURNING user_id",
            params![link_hash, now],
            |row| row.get(0),
        )
    }

    /// Deletes password links past their expiry or already used; returns how many.
    pub fn prune_password_links(&self, now: Timestamp) -> Result<usize> {
        self.conn().execute("DELETE FROM password_links WHERE expires <= ?1 OR used IS NOT NULL", params![now])
    }
}
