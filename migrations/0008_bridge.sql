-- Migration number: 0008 	 bridge
-- The Talkdesk Integrations bridge (CRM data served to Talkdesk): each account's integration key
-- (kept only as its SHA-256), and the built-in store of contacts, agents and interactions the
-- operator imports. `seq` is the account's change counter: every insert, edit or deletion takes a
-- new, larger one, so an incremental sync asks for everything after a checkpoint. Deleted
-- records stay as tombstones (`deleted = 1`) so a sync can tell.

CREATE TABLE integration_keys (
    key_id     TEXT PRIMARY KEY NOT NULL,     -- the key's public prefix
    account_id TEXT NOT NULL UNIQUE,
    key_hash   TEXT NOT NULL,                 -- base64url SHA-256 of the key's secret part
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE bridge_contacts (
    account_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record      TEXT NOT NULL,                -- the contact as the bridge answers it (JSON)
    emails      TEXT NOT NULL DEFAULT '[]',   -- normalised, for look-ups (JSON array)
    phones      TEXT NOT NULL DEFAULT '[]',   -- E.164, for look-ups (JSON array)
    seq         INTEGER NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, external_id)
) STRICT;
CREATE INDEX bridge_contacts_seq ON bridge_contacts (account_id, seq);

CREATE TABLE bridge_agents (
    account_id  TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    deleted     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, external_id)
) STRICT;

CREATE TABLE bridge_interactions (
    account_id          TEXT NOT NULL,
    external_id         TEXT NOT NULL,
    contact_external_id TEXT NOT NULL,
    occurred_at         TEXT NOT NULL,        -- RFC 3339, newest first
    kind                TEXT NOT NULL,
    record              TEXT NOT NULL,
    seq                 INTEGER NOT NULL,
    deleted             INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, external_id)
) STRICT;
CREATE INDEX bridge_interactions_contact
    ON bridge_interactions (account_id, contact_external_id, occurred_at);

-- Actions Talkdesk asked for, by request key, with the answer given: a repeated request gets the
-- same answer and does nothing twice. Kept for the operator.
CREATE TABLE bridge_actions (
    account_id  TEXT NOT NULL,
    request_key TEXT NOT NULL,
    action      TEXT NOT NULL,
    request     TEXT NOT NULL,                -- meta and data as received (JSON; no auth)
    answer      TEXT NOT NULL,                -- JSON
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (account_id, request_key)
) STRICT;
