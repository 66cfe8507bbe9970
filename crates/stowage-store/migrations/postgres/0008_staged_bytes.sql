-- The bytes a file has staged with Put Block and not yet committed: the project's sum over its files still
-- uploading bounds what tokens may stage (an upload nobody commits is swept once its credential expires).
ALTER TABLE files ADD COLUMN staged_bytes BIGINT NOT NULL DEFAULT 0;
