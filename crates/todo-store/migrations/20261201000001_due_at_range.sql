-- Due dates stay in year 1..=9999 (UTC), the range RFC 3339 can write and every client can
-- read. The application refuses other years (todo_store::validate::parse_due); this is the
-- database's own guard for writes that bypass it.
--
-- NOT VALID: rows stored before this migration are not checked, so an existing bad row
-- cannot block the upgrade (the store reads such rows safely; updating one requires a new
-- due date). The bounds are instants, so the session's TimeZone does not matter.
ALTER TABLE tasks
    ADD CONSTRAINT tasks_due_at_year_range
    CHECK (due_at >= '0001-01-01 00:00:00+00' AND due_at < '10000-01-01 00:00:00+00')
    NOT VALID;
