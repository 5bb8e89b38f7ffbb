-- Migration number: 0013 	 candidate_account
-- Before storing an install event the intake counts the install events already waiting for its
-- account label (the flood limit). Unindexed, that count read every pending job of every
-- installation and parsed its event's candidate: with a backlog of 10,000 pending jobs, about
-- 4 ms of D1 per install event (measured on SQLite natively). By the label, it reads only that label's waiting candidates.
-- Candidates are cleared when their event is done (kept only while it is failed or
-- unconfirmed, for the operator), so the index stays small.
CREATE INDEX events_candidate_account ON events (json_extract(candidate, '$.account_name'))
    WHERE candidate IS NOT NULL;
