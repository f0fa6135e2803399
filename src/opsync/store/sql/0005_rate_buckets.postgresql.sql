-- Deployment-wide request pacing (opsync.pacing_shared): one row per upstream credential.
-- tat is the bucket's "theoretical arrival time" (GCRA) in Unix epoch seconds: each request
-- reserves a slot by moving it forward one interval, in one UPDATE.

CREATE TABLE rate_buckets (
  name TEXT PRIMARY KEY,
  tat DOUBLE PRECISION NOT NULL
);
