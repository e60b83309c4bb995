-- 0.7.x -> 0.9.0 in one step: the schema of 0.8.0 (notes.archived_at) and of
-- 0.9.0 (shares, users.role with the admin backfill). The statements and
-- their order are those of v0.7.0_to_v0.8.0/ and v0.8.0_to_v0.9.0/, so both
-- paths leave the same schema.

-- ferry:up
ALTER TABLE notes ADD COLUMN archived_at TEXT;
CREATE INDEX notes_user_archived ON notes(user_id, archived_at);
CREATE TABLE shares (
  id         INTEGER PRIMARY KEY,
  note_id    INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
  token      TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT
);
CREATE INDEX shares_note ON shares(note_id);
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));
UPDATE users SET role = 'admin' WHERE id = (SELECT min(id) FROM users);

-- ferry:down
ALTER TABLE users DROP COLUMN role;
DROP INDEX shares_note;
DROP TABLE shares;
DROP INDEX notes_user_archived;
ALTER TABLE notes DROP COLUMN archived_at;

-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('users') WHERE name = 'role';

-- ferry:verify
SELECT (SELECT count(*) = 0 OR sum(role = 'admin') >= 1 FROM users)
   AND (SELECT count(*) = 1 FROM sqlite_master WHERE type = 'index' AND name = 'notes_user_archived')
   AND (SELECT count(*) = 1 FROM sqlite_master WHERE type = 'table' AND name = 'shares');
