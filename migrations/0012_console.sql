-- Migration number: 0012 	 console
-- The operator console: browser sessions (only the SHA-256 of the cookie's id is stored), and
-- the app version each event came from (Talkdesk's `app_version_name`), shown per installation.
CREATE TABLE operator_sessions (
    id_hash    TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

ALTER TABLE events ADD COLUMN app_version_name TEXT;
