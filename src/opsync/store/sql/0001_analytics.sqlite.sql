-- The seed's analytics schema (its migrations/0001_initial_schema.sql), unchanged; "IF NOT
-- EXISTS" lets a database restored from the seed's D1 export be adopted. Epoch milliseconds.

CREATE TABLE IF NOT EXISTS phone_numbers (
  id TEXT PRIMARY KEY,
  number TEXT NOT NULL,
  name TEXT,
  first_seen_at INTEGER NOT NULL,
  last_call_sync_at INTEGER,
  last_message_sync_at INTEGER,
  total_calls_synced INTEGER DEFAULT 0,
  total_messages_synced INTEGER DEFAULT 0,
  is_active INTEGER DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  phone_number_id TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  direction TEXT,
  notion_page_id TEXT,
  canvas_id TEXT,
  sync_status TEXT NOT NULL,
  error_message TEXT,
  processing_time_ms INTEGER,
  synced_at INTEGER NOT NULL,
  FOREIGN KEY (phone_number_id) REFERENCES phone_numbers(id)
);

CREATE TABLE IF NOT EXISTS canvas_cache (
  lookup_key TEXT PRIMARY KEY,
  lookup_type TEXT NOT NULL,
  canvas_id TEXT NOT NULL,
  canvas_name TEXT,
  cached_at INTEGER NOT NULL,
  hit_count INTEGER DEFAULT 1,
  last_used_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS performance_metrics (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  metric_type TEXT NOT NULL,
  operation TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  success INTEGER NOT NULL,
  phone_number_id TEXT,
  timestamp INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_sync_history_phone ON sync_history(phone_number_id, synced_at DESC);
CREATE INDEX IF NOT EXISTS idx_sync_history_resource ON sync_history(resource_type, resource_id);
CREATE INDEX IF NOT EXISTS idx_sync_history_time ON sync_history(synced_at DESC);
CREATE INDEX IF NOT EXISTS idx_canvas_cache_type ON canvas_cache(lookup_type, cached_at DESC);
CREATE INDEX IF NOT EXISTS idx_performance_metrics_type ON performance_metrics(metric_type, timestamp DESC);

CREATE VIEW IF NOT EXISTS sync_stats_today AS
SELECT
  phone_number_id,
  resource_type,
  sync_status,
  COUNT(*) as count,
  AVG(processing_time_ms) as avg_processing_time_ms
FROM sync_history
WHERE synced_at > (strftime('%s', 'now') - 86400) * 1000
GROUP BY phone_number_id, resource_type, sync_status;

CREATE VIEW IF NOT EXISTS canvas_cache_stats AS
SELECT
  lookup_type,
  COUNT(*) as total_entries,
  SUM(hit_count) as total_hits,
  AVG(hit_count) as avg_hits_per_entry
FROM canvas_cache
GROUP BY lookup_type;
