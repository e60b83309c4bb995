-- Data backfill: split every note's comma-separated notes.tags string into
-- tags (one per user and name, trimmed and lower-cased, empty parts dropped)
-- and note_tags links. notes.tags itself is left as it was.
--
-- down empties the two tables, which the previous step created empty.
-- check: needed while some tagged note has no link; on a fresh install (no
-- notes yet) it is false, so ferry records the step as skipped.

-- ferry:up
WITH RECURSIVE split(note_id, user_id, rest, tag) AS (
  SELECT id, user_id, tags || ',', NULL FROM notes
  UNION ALL
  SELECT note_id, user_id,
         substr(rest, instr(rest, ',') + 1),
         lower(trim(substr(rest, 1, instr(rest, ',') - 1)))
    FROM split WHERE rest <> ''
)
INSERT INTO tags (user_id, name)
SELECT DISTINCT user_id, tag FROM split
 WHERE tag IS NOT NULL AND tag <> ''
 ORDER BY user_id, tag;

WITH RECURSIVE split(note_id, user_id, rest, tag) AS (
  SELECT id, user_id, tags || ',', NULL FROM notes
  UNION ALL
  SELECT note_id, user_id,
         substr(rest, instr(rest, ',') + 1),
         lower(trim(substr(rest, 1, instr(rest, ',') - 1)))
    FROM split WHERE rest <> ''
)
INSERT INTO note_tags (note_id, tag_id)
SELECT DISTINCT s.note_id, t.id
  FROM split s JOIN tags t ON t.user_id = s.user_id AND t.name = s.tag
 ORDER BY s.note_id, t.id;

-- ferry:down
DELETE FROM note_tags;
DELETE FROM tags;

-- ferry:check
SELECT EXISTS (SELECT 1 FROM notes n
                WHERE replace(replace(n.tags, ',', ''), ' ', '') <> ''
                  AND NOT EXISTS (SELECT 1 FROM note_tags nt WHERE nt.note_id = n.id));

-- ferry:verify
SELECT count(*) = 0 FROM notes n
 WHERE replace(replace(n.tags, ',', ''), ' ', '') <> ''
   AND NOT EXISTS (SELECT 1 FROM note_tags nt WHERE nt.note_id = n.id);
