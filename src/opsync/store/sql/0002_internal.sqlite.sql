-- What the sync itself needs: the inbox (every unit of work), its error history, the ledger of
-- Notion pages per resource, the last known OpenPhone objects, and a key-value table.
-- Timestamps are Unix epoch milliseconds.

CREATE TABLE inbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  event_type TEXT NOT NULL,
  source TEXT NOT NULL,
  partition_key TEXT,
  payload TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending',
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_owner TEXT,
  lease_expires_at INTEGER,
  last_error TEXT,
  received_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER
);
CREATE INDEX idx_inbox_claim ON inbox(state, next_attempt_at);
CREATE INDEX idx_inbox_partition ON inbox(partition_key, state);
CREATE INDEX idx_inbox_lease ON inbox(state, lease_expires_at);

CREATE TABLE inbox_errors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  inbox_id INTEGER NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  error_class TEXT NOT NULL,
  message TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX idx_inbox_errors_inbox ON inbox_errors(inbox_id, attempt);

CREATE TABLE resource_ledger (
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  notion_page_id TEXT,
  notion_database_id TEXT,
  content_hash TEXT,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (resource_type, resource_id)
);
CREATE INDEX idx_resource_ledger_state ON resource_ledger(state, updated_at);

CREATE TABLE resource_snapshots (
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  phone_number_id TEXT,
  payload TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (resource_type, resource_id)
);
CREATE INDEX idx_resource_snapshots_phone ON resource_snapshots(phone_number_id, resource_type);

CREATE TABLE kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER,
  updated_at INTEGER NOT NULL
);
CREATE INDEX idx_kv_expires ON kv(expires_at);
