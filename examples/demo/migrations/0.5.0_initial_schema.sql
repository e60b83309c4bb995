-- notebook 0.5.0: the baseline schema.
--
-- A flat step: it forms the transition into 0.5.0 from the greatest
-- catalogued version below it, 0.0.0 (the empty installation), so a fresh
-- install starts here. The demo installation was created at 0.5.0 from
-- ../seed.sql, whose CREATE statements are the same as these.
--
-- The verify query names only columns that no later version renames or
-- drops: `ferry verify` runs it again at every later version.

-- ferry:up
CREATE TABLE users (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  email         TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    TEXT NOT NULL
);
CREATE TABLE notes (
  id         INTEGER PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title      TEXT NOT NULL,
  body       TEXT NOT NULL DEFAULT '',
  tags       TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX notes_user_updated ON notes(user_id, updated_at);

-- ferry:down
DROP INDEX notes_user_updated;
DROP TABLE notes;
DROP TABLE users;

-- ferry:check
SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'notes');

-- ferry:verify
SELECT u.id, u.username, u.email, n.id, n.title, n.tags, n.updated_at
  FROM users u JOIN notes n ON n.user_id = u.id LIMIT 0;
