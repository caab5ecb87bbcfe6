-- The chat engine's state kept with each conversation: its open question ("Delete 3
-- completed tasks? (yes/no)") and the tasks the conversation is about ("delete it"), so the
-- answer works on any replica and after a restart. Small JSON written by the engine; NULL
-- when there is nothing to carry.
ALTER TABLE conversations ADD COLUMN engine_state jsonb;
