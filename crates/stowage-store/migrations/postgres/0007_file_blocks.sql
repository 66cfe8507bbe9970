-- The blocks of a file uploaded in blocks (Azure's Put Block and Put Block List), in the order of its
-- block list: the file's bytes are these objects one after another, where they were staged, instead of
-- a copy of them at the file's own key. A file without rows here is the object at `files.blob_key`.
CREATE TABLE file_blocks (
    file_id    BIGINT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    position   BIGINT NOT NULL,
    blob_key   TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    PRIMARY KEY (file_id, position)
);
