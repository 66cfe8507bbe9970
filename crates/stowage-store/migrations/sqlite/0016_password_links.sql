-- One-time links that let a person set their console password (sent by mail when a project admin
-- invites them or asks for it). Only the SHA-256 of the link's secret part is kept.
CREATE TABLE password_links (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    link_hash TEXT NOT NULL UNIQUE,
    created   INTEGER NOT NULL,
    expires   INTEGER NOT NULL,
    -- Set when the password was set through it; the link is dead from then on.
    used      INTEGER
);
