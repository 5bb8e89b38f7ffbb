-- Migration number: 0004 	 event_order
-- Talkdesk's `created_at` of the last trial event and of the credential set applied, so a late
-- delivery of an older trial event or rotation never undoes a newer one.
ALTER TABLE installations ADD COLUMN trial_event_at TEXT;
ALTER TABLE installations ADD COLUMN credentials_event_at TEXT;
