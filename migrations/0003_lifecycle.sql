-- Migration number: 0003 	 lifecycle
-- Every event received (ids kept past Talkdesk's retry schedule for idempotency), every
-- installation with its sealed credentials, its licensed users, and the outbox of work still
-- to do (verify, provision, confirm), driven after the answer and by the cron sweep.

CREATE TABLE events (
    event_id        TEXT PRIMARY KEY NOT NULL,
    event_type      TEXT NOT NULL,
    installation_id TEXT,
    account_id      TEXT,
    created_at      TEXT NOT NULL,            -- as Talkdesk stamped it
    received_at     INTEGER NOT NULL,         -- ms
    keep_until      INTEGER NOT NULL,         -- ms; at least 8 days after receipt
    status          TEXT NOT NULL,            -- received | done | ignored | forged | failed
    detail          TEXT,                     -- why, for the operator; never a secret
    -- A rotation's new credential set waits here, sealed, until the rotation is confirmed.
    new_client_id      TEXT,
    new_key_id         TEXT,
    new_key_algorithm  TEXT,
    sealed_new_secret  TEXT,
    sealed_new_key     TEXT
) STRICT;
CREATE INDEX events_installation ON events (installation_id, received_at);
CREATE INDEX events_keep_until ON events (keep_until);

CREATE TABLE installations (
    installation_id   TEXT PRIMARY KEY NOT NULL,
    account_id        TEXT NOT NULL,
    account_name      TEXT NOT NULL,
    -- received (stored, not yet verified) | active | rejected | forged | uninstalled | attention
    state             TEXT NOT NULL,
    api_root          TEXT NOT NULL,
    token_url         TEXT NOT NULL,
    authorize_url     TEXT NOT NULL,
    client_id         TEXT,
    key_id            TEXT,
    key_algorithm     TEXT,
    sealed_secret     TEXT,                   -- client_secret, sealed
    sealed_key        TEXT,                   -- PKCS#8 private key, sealed
    -- The set replaced by a rotation, kept until the new one is acknowledged.
    old_client_id     TEXT,
    old_key_id        TEXT,
    old_key_algorithm TEXT,
    sealed_old_secret TEXT,
    sealed_old_key    TEXT,
    company_name      TEXT,
    timezone          TEXT,
    plan              TEXT,
    subscription_type TEXT,
    total_licenses    INTEGER,
    trial_state       TEXT,
    trial_expires_at  TEXT,
    trial_ended_at    TEXT,
    trial_ended_reason TEXT,
    users_count       INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    install_event_id  TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    approved_at       INTEGER,
    uninstalled_at    INTEGER
) STRICT;
CREATE INDEX installations_account ON installations (account_id);

CREATE TABLE installation_users (
    installation_id TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    email           TEXT,
    name            TEXT,
    active          INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (installation_id, user_id)
) STRICT;

-- The outbox: one job per event that needs work. Jobs of one installation run one at a time,
-- in order (job_id), under a lease; transient failures retry with backoff until the deadline.
CREATE TABLE jobs (
    job_id          INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id TEXT NOT NULL,
    event_id        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,            -- install | update | uninstall | rotate | trial | logout
    state           TEXT NOT NULL,            -- pending | done | failed | expired
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,         -- ms
    deadline_at     INTEGER NOT NULL,         -- ms: Talkdesk's 7-day window
    lease_holder    TEXT,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_due ON jobs (state, next_attempt_at);
CREATE INDEX jobs_installation ON jobs (installation_id, state, job_id);
