-- Reminders on notes (SQL step).
-- ferry:up
CREATE TABLE reminders (
    id       INTEGER PRIMARY KEY,
    note_id  INTEGER NOT NULL REFERENCES notes(id),
    due_at   TEXT NOT NULL,
    done     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX reminders_due ON reminders(due_at) WHERE done = 0;
-- ferry:down
DROP TABLE reminders;
-- ferry:verify
SELECT count(*) >= 0 FROM reminders;
