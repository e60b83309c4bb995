-- An optional name shown instead of the username.

-- ferry:up
ALTER TABLE users ADD COLUMN display_name TEXT;

-- ferry:down
ALTER TABLE users DROP COLUMN display_name;

-- ferry:check
SELECT count(*) = 0 FROM pragma_table_info('users') WHERE name = 'display_name';

-- ferry:verify
SELECT display_name FROM users LIMIT 0;
