-- Case-insensitive title search per user, e.g. with ?2 bound to 'read%':
--   SELECT ... FROM notes WHERE user_id = ?1 AND title LIKE ?2
-- (LIKE is case-insensitive by default, so it can use a NOCASE index).

-- ferry:up
CREATE INDEX notes_user_title_nocase ON notes(user_id, title COLLATE NOCASE);

-- ferry:down
DROP INDEX notes_user_title_nocase;

-- ferry:check
SELECT count(*) = 0 FROM sqlite_master WHERE type = 'index' AND name = 'notes_user_title_nocase';

-- ferry:verify
SELECT count(*) = 1 FROM sqlite_master WHERE type = 'index' AND name = 'notes_user_title_nocase';
