-- Migration number: 0010 	 fenced_steps
-- Writes to an installation are conditional on its version (every write adds one), so a runner
-- working from an older copy (a job that outlived its lease, a re-seal racing a job) changes
-- nothing; job-owned writes are also conditional on the job's lease holder.
ALTER TABLE installations ADD COLUMN version INTEGER NOT NULL DEFAULT 0;

-- A users re-read in progress, so a big account is read over several invocations: the next page
-- to read, and the users read so far in a staging set no reader sees until the swap.
CREATE TABLE user_syncs (
    job_id          INTEGER PRIMARY KEY NOT NULL,
    installation_id TEXT NOT NULL,
    next_page       INTEGER NOT NULL,
    fetched         INTEGER NOT NULL DEFAULT 0,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE TABLE user_staging (
    job_id  INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    email   TEXT,
    name    TEXT,
    active  INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (job_id, user_id)
) STRICT;

-- What the operator did to an installation (retry, replay, re-seal), for its history.
CREATE TABLE operator_actions (
    action_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    installation_id TEXT NOT NULL,
    action          TEXT NOT NULL,
    detail          TEXT NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX operator_actions_installation ON operator_actions (installation_id, action_id);
