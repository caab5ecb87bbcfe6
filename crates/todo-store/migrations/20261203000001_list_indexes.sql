-- Indexes for every sort and filter of the task list, so a page costs the same at 1,000
-- tasks as at 100,000: each sort reads its rows in order from an index (and seeks to a
-- keyset cursor), and `q` searches a trigram index instead of reading the user's tasks.
-- The queries are in crates/todo-store/src/tasks.rs; tests/list_plans.rs checks with EXPLAIN
-- that every sort and filter uses these.
--
-- Plain CREATE INDEX (not CONCURRENTLY, which cannot run in the migration's transaction):
-- writes to tasks wait while they build, a few seconds per million tasks.

-- One index per sort key, on (user_id, key, id): the list's ORDER BY key, id. A btree reads
-- backwards too, so each serves asc and desc (created_at's already exists from the first
-- migration). due_at sorts on the clamped expression the store reads (see DUE_EXPR in
-- tasks.rs: the same text, or the planner does not match it) with its NULLs last both ways,
-- which takes one index per direction. The due filters compare the same expression, so these
-- serve them too; due_at is INCLUDEd so a capped count reads the index alone.
CREATE INDEX tasks_user_updated_idx ON tasks (user_id, updated_at, id);
CREATE INDEX tasks_user_priority_idx ON tasks (user_id, priority, id);
CREATE INDEX tasks_user_title_idx ON tasks (user_id, title, id);
CREATE INDEX tasks_user_due_asc_idx ON tasks (
    user_id,
    (CASE WHEN tasks.due_at > '9999-12-31 235959.999999+00' THEN '9999-12-31 235959.999999+00'::timestamptz WHEN tasks.due_at < '4713-01-01 000000+00 BC' THEN '4713-01-01 000000+00 BC'::timestamptz ELSE tasks.due_at END) ASC NULLS LAST,
    id ASC
) INCLUDE (due_at);
CREATE INDEX tasks_user_due_desc_idx ON tasks (
    user_id,
    (CASE WHEN tasks.due_at > '9999-12-31 235959.999999+00' THEN '9999-12-31 235959.999999+00'::timestamptz WHEN tasks.due_at < '4713-01-01 000000+00 BC' THEN '4713-01-01 000000+00 BC'::timestamptz ELSE tasks.due_at END) DESC NULLS LAST,
    id DESC
) INCLUDE (due_at);

-- due=overdue (pending, due before now): the pending tasks' due dates in order, so its count
-- stops after 1,001 entries instead of collecting every past due date, completed or not.
CREATE INDEX tasks_user_pending_due_idx ON tasks (
    user_id,
    (CASE WHEN tasks.due_at > '9999-12-31 235959.999999+00' THEN '9999-12-31 235959.999999+00'::timestamptz WHEN tasks.due_at < '4713-01-01 000000+00 BC' THEN '4713-01-01 000000+00 BC'::timestamptz ELSE tasks.due_at END),
    id
) INCLUDE (due_at) WHERE NOT completed;

-- status=pending|completed with the default sort, keyset included (the old index lacked id,
-- so a cursor page sorted its ties).
CREATE INDEX tasks_user_completed_created_idx ON tasks (user_id, completed, created_at DESC, id DESC);
DROP INDEX tasks_user_completed_idx;

-- Search (`q`) and tags through GIN indexes scoped to the user: pg_trgm for substring
-- matches (ILIKE '%...%'), btree_gin so user_id is a key of the same GIN index. Both are
-- "trusted" extensions (PostgreSQL 13+): the database owner may create them, as the
-- chart's PostgreSQL (postgres:17 image, contrib included), the throwaway test server and
-- managed services such as Neon, RDS and Cloud SQL allow. Where the role may not (no CREATE
-- on the database) or the contrib files are missing, the migration still succeeds: `q`
-- then filters the user's rows as before (correct, slower on large lists), and a NOTICE
-- says so. To add them later, as a role that may: CREATE EXTENSION pg_trgm; CREATE
-- EXTENSION btree_gin; then the CREATE INDEX statements below.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE NOTICE 'pg_trgm not installed (%): search (q) reads each user''s tasks; a role with CREATE on the database can run CREATE EXTENSION pg_trgm and the index statements of migration 20261203000001', SQLERRM;
    END;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS btree_gin;
    EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
        RAISE NOTICE 'btree_gin not installed (%): the tag and search indexes cover all users, not one', SQLERRM;
    END;

    -- The search expression is SEARCH_EXPR in tasks.rs, character for character.
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
            EXECUTE $sql$CREATE INDEX tasks_user_search_idx ON tasks USING gin (user_id, (title || E'\x1f' || coalesce(description, '')) gin_trgm_ops)$sql$;
        ELSE
            EXECUTE $sql$CREATE INDEX tasks_search_idx ON tasks USING gin ((title || E'\x1f' || coalesce(description, '')) gin_trgm_ops)$sql$;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        EXECUTE 'CREATE INDEX tasks_user_tags_idx ON tasks USING gin (user_id, tags)';
        EXECUTE 'DROP INDEX tasks_tags_idx';
    END IF;
END
$$;
