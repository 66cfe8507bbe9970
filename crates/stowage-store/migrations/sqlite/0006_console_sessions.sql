-- Console sign-ins. The cookie holds a random secret; only its SHA-256 is stored.

CREATE TABLE console_sessions (
    id_hash    TEXT PRIMARY KEY,
    -- A person who signed in with email and password, or
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    -- a token pasted into the sign-in page (the session can do what the token can).
    token_id   INTEGER REFERENCES tokens(id) ON DELETE CASCADE,
    -- Sent back in every form, checked on every change.
    csrf       TEXT NOT NULL,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
