-- Tags get their own tables: one row per (user, tag name), and a link table.

-- ferry:up
CREATE TABLE tags (
  id      INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name    TEXT NOT NULL,
  UNIQUE (user_id, name)
);
CREATE TABLE note_tags (
  note_id INTEGER NOT NULL REFERENCES notes(id) ON DELETE CASCADE,
  tag_id  INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
  PRIMARY KEY (note_id, tag_id)
);
CREATE INDEX note_tags_tag ON note_tags(tag_id);

-- ferry:down
DROP INDEX note_tags_tag;
DROP TABLE note_tags;
DROP TABLE tags;

-- ferry:check
SELECT count(*) = 0 FROM sqlite_master WHERE type = 'table' AND name IN ('tags', 'note_tags');

-- ferry:verify
SELECT t.id, t.user_id, t.name, nt.note_id FROM tags t JOIN note_tags nt ON nt.tag_id = t.id LIMIT 0;
