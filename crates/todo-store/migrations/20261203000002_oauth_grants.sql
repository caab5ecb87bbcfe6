-- OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00): a
-- client whose client_id is an https URL is not registered but fetched; its row here is the
-- cached document, shared by every replica, and is fetched again once metadata_expires_at
-- has passed (the document's Cache-Control within todo-api's bounds). NULL for clients of
-- RFC 7591 dynamic registration, which never expire. Codes and grants reference the row as
-- they do a registered client's.
ALTER TABLE oauth_clients ADD COLUMN metadata_expires_at timestamptz;

