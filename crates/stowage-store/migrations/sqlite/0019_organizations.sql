-- Organizations: a stack has maintainers, a maintainer has organizations, an organization has projects and
-- members (users who may see and manage its projects, and share buckets among them). Every project lives in
-- one organization. The stack starts with one maintainer and one organization, which take the projects that
-- exist and the stack's first user (the admin its first start made).
CREATE TABLE maintainers (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    name    TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE organizations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    maintainer_id   INTEGER NOT NULL REFERENCES maintainers(id),
    name            TEXT NOT NULL,
    crm_id          TEXT NOT NULL DEFAULT '',
    allow_auto_join INTEGER NOT NULL DEFAULT 1,
    mfa_required    INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL
);
CREATE INDEX organizations_maintainer ON organizations(maintainer_id);

CREATE TABLE organization_members (
    organization_id INTEGER NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created         INTEGER NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX organization_members_user ON organization_members(user_id);

INSERT INTO maintainers (name, created) VALUES ('Default', CAST(strftime('%s', 'now') AS INTEGER));
INSERT INTO organizations (maintainer_id, name, created)
    SELECT id, 'Default', created FROM maintainers;

ALTER TABLE projects ADD COLUMN organization_id INTEGER REFERENCES organizations(id);
UPDATE projects SET organization_id = (SELECT MIN(id) FROM organizations);
CREATE INDEX projects_organization ON projects(organization_id);

INSERT INTO organization_members (organization_id, user_id, created)
    SELECT (SELECT MIN(id) FROM organizations), id, created FROM users WHERE id = (SELECT MIN(id) FROM users);
