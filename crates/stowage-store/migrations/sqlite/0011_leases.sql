-- Named leases for work that one process of a stack does at a time (maintenance): whoever holds a
-- lease that has not expired does it; any process takes over an expired one.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    -- Unix seconds.
    expires INTEGER NOT NULL
);
