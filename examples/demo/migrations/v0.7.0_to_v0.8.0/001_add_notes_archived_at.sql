-- A note is archived when archived_at is set (RFC 3339 UTC), active when NULL.

-- ferry:up
ALTER TABLE notes ADD COLUMN archived_at TEXT;
CREATE INDEX notes_user_archived ON notes(user_id, archived_at);

-- ferry:down
DROP INDEX notes_user_archived;
ALTER TABLE notes DROP COLUMN archived_at;

-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('notes') WHERE name = 'archived_at';

-- ferry:verify
SELECT count(*) = 1 FROM sqlite_master WHERE type = 'index' AND name = 'notes_user_archived';
