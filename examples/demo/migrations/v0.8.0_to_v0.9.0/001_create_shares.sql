-- Read-only share links for single notes.

-- ferry:up
CREATE TABLE shares (
  id         INTEGER PRIMARY KEY,
  note_id    INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
  token      TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL,
  expires_at TEXT
);
CREATE INDEX shares_note ON shares(note_id);

-- ferry:down
DROP INDEX shares_note;
DROP TABLE shares;

-- ferry:check
SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table' AND name = 'shares';

-- ferry:verify
SELECT id, note_id, token, created_at, expires_at FROM shares LIMIT 0;
