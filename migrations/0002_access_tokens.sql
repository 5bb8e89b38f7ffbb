-- Migration number: 0002 	 access_tokens
-- The current access token of each installation and scope set (sealed), and the lease that lets
-- exactly one request, in any isolate, mint the next one. D1 is strongly consistent, unlike KV,
-- which only caches what is here.
CREATE TABLE access_tokens (
    token_key      TEXT PRIMARY KEY NOT NULL,  -- token:{installation_id}:{scope set}
    sealed_token   TEXT,                       -- v1.{key id}.{nonce}.{ciphertext}
    expires_at     INTEGER,                    -- unix seconds
    lease_holder   TEXT,
    lease_until_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
