-- Token lifecycle: secrets kept for sharing (encrypted with the stack key, never in plain text),
-- the admin who created a token, and one-time share links.

-- AES-256-GCM ciphertext of the secret, under the stack key kept outside this database.
-- NULL for master tokens, which cannot be shared.
ALTER TABLE tokens ADD COLUMN secret_enc TEXT;
-- The user whose master token created this token (`adminOwner`).
ALTER TABLE tokens ADD COLUMN owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL;
CREATE INDEX tokens_expires ON tokens(expires) WHERE expires IS NOT NULL;

CREATE TABLE token_shares (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    token_id        INTEGER NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    -- SHA-256 of the link's secret part; the link itself is only in the email.
    link_hash       TEXT NOT NULL UNIQUE,
    recipient_email TEXT NOT NULL,
    created         INTEGER NOT NULL,
    expires         INTEGER NOT NULL,
    -- Set at the first retrieval; the link is dead from then on.
    retrieved       INTEGER
);
