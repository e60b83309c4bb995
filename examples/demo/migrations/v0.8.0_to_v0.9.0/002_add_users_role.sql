-- User roles. Data backfill: the oldest account (lowest id) becomes 'admin'.
-- down drops the column, and with it the backfilled values.

-- ferry:up
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));
UPDATE users SET role = 'admin' WHERE id = (SELECT min(id) FROM users);

-- ferry:down
ALTER TABLE users DROP COLUMN role;

-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('users') WHERE name = 'role';

-- ferry:verify
SELECT count(*) = 0 OR sum(role = 'admin') >= 1 FROM users;
