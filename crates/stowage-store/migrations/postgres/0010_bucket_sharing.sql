-- Bucket sharing, as SQLite's 0020: the kind (NULL: not shared), who shared it and when, and the targets.
ALTER TABLE buckets ADD COLUMN sharing TEXT;
ALTER TABLE buckets ADD COLUMN shared_by_token_id BIGINT;
ALTER TABLE buckets ADD COLUMN shared_by_name TEXT;
ALTER TABLE buckets ADD COLUMN shared BIGINT;
CREATE INDEX buckets_shared ON buckets(sharing) WHERE sharing IS NOT NULL;

CREATE TABLE bucket_share_targets (
    bucket_pk  BIGINT NOT NULL REFERENCES buckets(pk) ON DELETE CASCADE,
    project_id BIGINT REFERENCES projects(id) ON DELETE CASCADE,
    user_id    BIGINT REFERENCES users(id) ON DELETE CASCADE
);
CREATE INDEX bucket_share_targets_bucket ON bucket_share_targets(bucket_pk);
