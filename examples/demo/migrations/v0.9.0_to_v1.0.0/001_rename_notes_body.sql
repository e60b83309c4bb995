-- Breaking: notes.body becomes notes.content (the 1.0 API's field name).

-- ferry:up
ALTER TABLE notes RENAME COLUMN body TO content;

-- ferry:down
ALTER TABLE notes RENAME COLUMN content TO body;

-- ferry:check
SELECT count(*) = 1 FROM pragma_table_info('notes') WHERE name = 'body';

-- ferry:verify
SELECT content FROM notes LIMIT 0;
