-- The contact timeline's index (opsync.timeline; docs/decisions/0022-contact-timeline.md):
-- one row per call or message (when it happened, the other party, the Canvas page its Notion
-- page links to) and one row per number of another party. Derived from resource_snapshots
-- and sync_history: filled on first use and caught up on every read, so nothing else depends
-- on it and it can be emptied to be rebuilt. Timestamps are Unix epoch milliseconds.

CREATE TABLE timeline_entries (
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  phone_number_id TEXT,
  occurred_at BIGINT NOT NULL,
  counterparty TEXT,
  canvas_id TEXT,
  indexed_at BIGINT NOT NULL,
  PRIMARY KEY (resource_type, resource_id)
);
CREATE INDEX idx_timeline_entries_canvas
  ON timeline_entries(canvas_id, occurred_at, resource_type, resource_id);

CREATE TABLE timeline_parties (
  party TEXT NOT NULL,
  resource_type TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  occurred_at BIGINT NOT NULL,
  PRIMARY KEY (party, resource_type, resource_id)
);
CREATE INDEX idx_timeline_parties_time
  ON timeline_parties(party, occurred_at, resource_type, resource_id);

-- The catch-up reads the snapshots written since its last run.
CREATE INDEX idx_resource_snapshots_updated
  ON resource_snapshots(resource_type, updated_at, resource_id);
