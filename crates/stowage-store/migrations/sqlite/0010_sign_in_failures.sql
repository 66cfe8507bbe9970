-- Failed password sign-ins per email (lowercased), so the sign-in throttle holds across restarts
-- and across the processes of one stack.
CREATE TABLE sign_in_failures (
    email   TEXT PRIMARY KEY,
    count   INTEGER NOT NULL,
    -- Unix milliseconds of the last failure.
    last_ms INTEGER NOT NULL
);
