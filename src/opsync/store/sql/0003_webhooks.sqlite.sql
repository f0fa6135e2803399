-- The OpenPhone webhooks opsync registered (opsync webhooks register) and their signing keys,
-- which opsync serve verifies deliveries with. signing_key is a secret: never print or log it.
-- Timestamps are Unix epoch milliseconds.

CREATE TABLE openphone_webhooks (
  webhook_id TEXT PRIMARY KEY,
  family TEXT NOT NULL,
  url TEXT NOT NULL,
  events TEXT NOT NULL,
  signing_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX idx_openphone_webhooks_url ON openphone_webhooks(url);
