-- A console session is bound to the exact credential it was opened with: the SHA-256 of the pasted
-- token's stored secret hash, or of the person's stored password hash. When the token is refreshed or
-- the password changes, the hashes no longer match and the session is dead. Sessions opened before
-- this column existed cannot be bound, so they end here.

ALTER TABLE console_sessions ADD COLUMN credential_hash TEXT NOT NULL DEFAULT '';
DELETE FROM console_sessions;
