-- Migration number: 0005 	 event_confirmation
-- An event is confirmed by reading it back through its own `_links.self` (Talkdesk's event
-- resource may have an id of its own), so the link is kept with the event. Jobs and events
-- whose confirmation could not prove them either way are `unconfirmed`: parked, their data
-- kept, for the operator (no new column: the state columns are free text).
ALTER TABLE events ADD COLUMN self_href TEXT;
