-- The whole schema of todo-chatbot, version 1.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    name          text NOT NULL,
    password_hash text NOT NULL,
    -- Per-user task numbers ("done with 3") come from this counter, bumped in the insert's
    -- transaction, so numbers are dense per user and never reused.
    task_counter  integer NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Emails are unique regardless of case; lower() keeps us off the citext extension, which
-- managed databases do not always allow.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TYPE task_priority AS ENUM ('low', 'medium', 'high');

CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    number       integer NOT NULL,
    title        text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    description  text CHECK (char_length(description) <= 1000),
    completed    boolean NOT NULL DEFAULT false,
    completed_at timestamptz,
    priority     task_priority NOT NULL DEFAULT 'medium',
    due_at       timestamptz,
    tags         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, number),
    CHECK (completed = (completed_at IS NOT NULL))
);
-- Every list query is per user; these cover the default sort and the common filters.
CREATE INDEX tasks_user_created_idx ON tasks (user_id, created_at DESC, id DESC);
CREATE INDEX tasks_user_completed_idx ON tasks (user_id, completed, created_at DESC);
CREATE INDEX tasks_user_due_idx ON tasks (user_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX tasks_tags_idx ON tasks USING gin (tags);

CREATE TABLE conversations (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_recent_idx ON conversations (user_id, updated_at DESC);

CREATE TABLE messages (
    -- An identity column gives messages a strict order, even within one transaction.
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('user', 'assistant', 'tool')),
    content         text NOT NULL,
    tool_calls      jsonb,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id);
