-- Migration number: 0009 	 retention
-- Indexes for the sweep's bounded purges: finished jobs by age, token rows by expiry, the
-- bridge's action record by age.
CREATE INDEX jobs_finished ON jobs (state, updated_at);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
CREATE INDEX bridge_actions_age ON bridge_actions (created_at);
