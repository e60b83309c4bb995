-- Pinned notes stay at the top of the list.

-- ferry:up
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));

-- ferry:down
ALTER TABLE notes DROP COLUMN pinned;

-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('notes') WHERE name = 'pinned';

-- ferry:verify
SELECT count(*) = 0 FROM notes WHERE pinned NOT IN (0, 1);
