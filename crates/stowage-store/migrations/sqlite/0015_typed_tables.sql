-- The column definitions of a typed table (JSON: name, basetype, length, nullable, default, in column
-- order); NULL for a table whose columns are untyped text.
ALTER TABLE tables ADD COLUMN definition TEXT;
