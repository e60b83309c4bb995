-- notebook 0.5.0 demo data.
--
-- Builds the demo installation's database:
--   sqlite3 data/notebook.db < seed.sql
-- The CREATE statements are those of migrations/0.5.0_initial_schema.sql
-- (the installation is taken to be at 0.5.0 already, see config/version.json);
-- keep the two identical.
--
-- In 0.5.0 a note's tags are a comma-separated string in notes.tags; 0.7.0
-- moves them into the tags and note_tags tables. A few strings below are
-- deliberately untidy (spaces, capitals, a repeated tag) as real users type.
-- Password hashes are placeholders, not real credentials.

PRAGMA foreign_keys = ON;
BEGIN;

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

INSERT INTO users (id, username, email, password_hash, created_at) VALUES
  (1, 'ada',   'ada@example.org',   '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWFkYQ$placeholderplaceholderplaceholder1', '2023-09-02T08:14:00Z'),
  (2, 'bruno', 'bruno@example.org', '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWJydW5v$placeholderplaceholderplaceholder2', '2023-09-05T19:40:12Z'),
  (3, 'chen',  'chen@example.org',  '$argon2id$v=19$m=65536,t=3,p=4$ZGVtby1zYWx0LWNoZW4$placeholderplaceholderplaceholder3', '2023-10-11T12:03:45Z');

INSERT INTO notes (id, user_id, title, body, tags, created_at, updated_at) VALUES
  (1, 1, 'Welcome to notebook',
      'This is your first note. Notes are plain text; the first line is the title.',
      '', '2023-09-02T08:15:00Z', '2023-09-02T08:15:00Z'),
  (2, 1, 'Backup plan for the home server',
      'Nightly: tar of /srv/notebook to the NAS. Weekly: copy to the USB disk in the drawer. Test a restore every quarter!',
      'homelab,ops', '2023-09-03T21:30:10Z', '2023-11-18T09:02:44Z'),
  (3, 1, 'Reading list',
      '- Designing Data-Intensive Applications' || char(10) || '- The Pragmatic Programmer' || char(10) || '- SQLite internals docs',
      'books, todo', '2023-09-10T17:45:00Z', '2024-01-06T20:11:31Z'),
  (4, 1, 'Sourdough starter',
      'Feed 1:1:1 (starter:flour:water) every 12 h at room temperature. Ready when it doubles in 4-6 h.',
      'Recipes, baking, recipes', '2023-10-01T07:20:00Z', '2023-10-14T07:05:09Z'),
  (5, 1, 'Ideas for the garden',
      'Raised bed by the fence; tomatoes, basil, chard. Ask Bruno about the rain barrel.',
      'ideas,garden', '2024-02-20T16:00:00Z', '2024-03-02T10:48:27Z'),
  (6, 2, 'Meeting notes 2023-11-07',
      'Attendees: Bruno, Chen.' || char(10) || 'Decided: move the wiki to notebook, keep the old one read-only until March.',
      'work,meetings', '2023-11-07T14:00:00Z', '2023-11-07T15:12:40Z'),
  (7, 2, 'Rain barrel',
      '200 l barrel from the hardware store, diverter kit, two cinder blocks. Total ~90 EUR.',
      'garden', '2023-11-12T11:22:03Z', '2023-11-12T11:22:03Z'),
  (8, 2, 'Q1 planning',
      'Goals: ship the importer, cut p95 latency below 200 ms, write the on-call guide.',
      ' Work , planning ', '2024-01-08T09:30:00Z', '2024-01-15T18:44:19Z'),
  (9, 2, 'Shopping',
      'coffee beans, oat milk, batteries (AA), bin bags',
      '', '2024-03-09T08:01:55Z', '2024-03-09T08:01:55Z'),
  (10, 3, 'Trip to Lisbon',
      'Flights booked for May 14-19. Stay in Alfama. Must see: Belem, LX Factory, a fado evening.',
      'travel,todo', '2024-02-01T22:10:00Z', '2024-04-02T07:36:50Z'),
  (11, 3, 'Postgres vs SQLite for notebook',
      'SQLite is plenty for a household: one file, easy backups, WAL for concurrent readers.',
      'work,databases', '2023-10-12T10:00:00Z', '2023-10-12T10:25:13Z'),
  (12, 3, 'Untitled draft',
      '',
      '', '2024-04-20T23:59:59Z', '2024-04-20T23:59:59Z');

COMMIT;
