-- Migration number: 0001 	 accounts
-- A Talkdesk account that has installed the app at least once. Kept after an uninstall, so a
-- reinstall in the same account (new installation id, new credentials) finds its settings again.
CREATE TABLE accounts (
    account_id   TEXT PRIMARY KEY NOT NULL,
    account_name TEXT NOT NULL,
    settings     TEXT NOT NULL DEFAULT '{}',  -- partner-defined JSON, never a secret
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;
