-- Every user has an IANA time zone (e.g. Pacific/Auckland): date-only due dates mean that day
-- in the zone, and "today", "tomorrow", "overdue" and "this week" are that zone's days.
-- Existing accounts get UTC, what every date meant before. The application checks names
-- against its bundled tz database (todo_wire::zone); the CHECK only keeps out text no zone
-- name has, for writes that bypass it.
ALTER TABLE users
    ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC'
    CONSTRAINT users_time_zone_shape CHECK (time_zone ~ '^[A-Za-z0-9_+/-]{1,64}$');
