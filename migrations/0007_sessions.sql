-- Migration number: 0007 	 sessions
-- Single sign-on from Talkdesk. A signed-in agent's session (the id is kept only as its SHA-256,
-- so a copy of the database opens no session), the sign-in states already used (a state is
-- single-use until it expires), and the installation's `_links.widget_url` (Talkdesk's header
-- script, shown on the app's first page).
ALTER TABLE installations ADD COLUMN widget_url TEXT;

CREATE TABLE sessions (
    session_hash    TEXT PRIMARY KEY NOT NULL,   -- base64url SHA-256 of the cookie's id
    installation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    user_name       TEXT,
    user_email      TEXT,
    created_at      INTEGER NOT NULL,            -- ms
    expires_at      INTEGER NOT NULL             -- ms
) STRICT;
CREATE INDEX sessions_user ON sessions (installation_id, user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE sso_states (
    state_id        TEXT PRIMARY KEY NOT NULL,   -- the sealed state's random id
    installation_id TEXT NOT NULL,
    used_at         INTEGER NOT NULL,            -- ms; sign-ins per minute are capped by it
    expires_at      INTEGER NOT NULL             -- ms; purged after
) STRICT;
CREATE INDEX sso_states_expiry ON sso_states (expires_at);
CREATE INDEX sso_states_installation ON sso_states (installation_id, used_at);
