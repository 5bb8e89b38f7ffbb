-- Migration number: 0006 	 install_candidates
-- Every `app.installed` keeps its own candidate installation (account, region URLs and its
-- credentials, sealed for the installation) on its event, so competing install events for one
-- installation id are proven independently: a forgery that came first cannot pre-empt the
-- genuine one. JSON of the installations row; cleared once the event is finished.
ALTER TABLE events ADD COLUMN candidate TEXT;
