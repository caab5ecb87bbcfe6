-- Chat turns that are safe to retry: the client names each message it sends
-- (`client_message_id` in POST /api/chat), the user's message and the assistant's reply are
-- stored under that id, and a repeat finds them instead of running the turn (and its tools)
-- again. Unique per user and role, so one id is one user message and at most one reply,
-- whichever conversation it started or joined.
ALTER TABLE messages ADD COLUMN client_message_id uuid;
-- What a repeat needs to answer exactly as the first time: the engine that answered and the
-- error code of a turn that ended with an error (its message is the stored content).
ALTER TABLE messages ADD COLUMN engine text;
ALTER TABLE messages ADD COLUMN error_code text;
CREATE UNIQUE INDEX messages_client_message_id_key
    ON messages (user_id, client_message_id, role)
    WHERE client_message_id IS NOT NULL;
