-- Bucket sharing within an organization: how a bucket is shared (NULL: not shared), who shared it and when,
-- and for `selected-projects` / `selected-users` the projects or users it is shared to.
ALTER TABLE buckets ADD COLUMN sharing TEXT;
ALTER TABLE buckets ADD COLUMN shared_by_token_id INTEGER;
ALTER TABLE buckets ADD COLUMN shared_by_name TEXT;
ALTER TABLE buckets ADD COLUMN shared INTEGER;
CREATE INDEX buckets_shared ON buckets(sharing) WHERE sharing IS NOT NULL;

CREATE TABLE bucket_share_targets (
    bucket_pk  INTEGER NOT NULL REFERENCES buckets(pk) ON DELETE CASCADE,
    project_id INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX bucket_share_targets_bucket ON bucket_share_targets(bucket_pk);
