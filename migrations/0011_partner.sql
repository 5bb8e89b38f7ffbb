-- Migration number: 0011 	 partner
-- The partner's side: signed webhooks to its backend (an outbox of their own, delivered in
-- order per installation), manual provisioning decisions, the ids of the partner's signed calls
-- already used, and the example hooks' tenants.

CREATE TABLE webhooks (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- delivery order within an installation
    webhook_id      TEXT NOT NULL UNIQUE,               -- `webhook-id`: the same on every retry
    installation_id TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,                      -- the JSON body, never a secret
    state           TEXT NOT NULL,                      -- pending | delivered | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_holder    TEXT,
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
) STRICT;
CREATE INDEX webhooks_installation ON webhooks (installation_id, state, seq);
CREATE INDEX webhooks_due ON webhooks (state, next_attempt_at);

-- An install waiting for a person (manual provisioning), and what was decided.
CREATE TABLE manual_decisions (
    installation_id TEXT PRIMARY KEY NOT NULL,
    state           TEXT NOT NULL,          -- waiting | approved | rejected | expired
    why_waiting     TEXT NOT NULL,
    reason          TEXT,                   -- the rejection's reason, shown to the customer
    decided_by      TEXT,                   -- operator | partner
    deadline_at     INTEGER NOT NULL,       -- Talkdesk's 7-day window, ms
    warned_at       INTEGER,
    requested_at    INTEGER NOT NULL,
    decided_at      INTEGER
) STRICT;

-- `webhook-id`s of the partner's signed calls already used (replay protection), for a day.
CREATE TABLE partner_calls (
    call_id    TEXT PRIMARY KEY NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- The example hooks' tenants (core/src/partner/example.rs): one per account.
CREATE TABLE example_tenants (
    account_id      TEXT PRIMARY KEY NOT NULL,
    installation_id TEXT NOT NULL,
    workspace       TEXT NOT NULL,
    seats           INTEGER NOT NULL,
    plan            TEXT,
    trial_state     TEXT,
    state           TEXT NOT NULL,          -- active | archived
    created_by      TEXT NOT NULL,          -- the idempotency key of the call that created it
    updated_at      INTEGER NOT NULL
) STRICT;
