-- The PostgreSQL schema: organisations with their key hash, webhook and the
-- last event sequence they handed out, events numbered per organisation,
-- and the per-organisation deduplication window. Times are Unix
-- milliseconds, as on SQLite.

CREATE TABLE organizations (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    tier           TEXT NOT NULL,
    api_key_hash   TEXT NOT NULL UNIQUE,
    webhook_url    TEXT,
    webhook_secret TEXT,
    created_at     BIGINT NOT NULL,
    -- The highest `seq` given to an event of this organisation. An ingest
    -- transaction raises it while holding this row's lock, so within one
    -- organisation `seq` order is commit order, whichever replica commits.
    last_seq       BIGINT NOT NULL DEFAULT 0
);

-- `payload` is TEXT, not JSONB, so the JSON text comes back exactly as
-- sent (key order, number spelling, escapes).
CREATE TABLE events (
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    seq                  BIGINT NOT NULL,
    id                   TEXT NOT NULL UNIQUE,
    event_type           TEXT NOT NULL,
    payload              TEXT NOT NULL,
    dedup_id             TEXT,
    status               TEXT NOT NULL,
    attempts             BIGINT NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_response_status BIGINT,
    next_attempt_at      BIGINT,
    created_at           BIGINT NOT NULL,
    delivered_at         BIGINT,
    PRIMARY KEY (organization_id, seq)
);

CREATE INDEX events_due ON events (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- One row per (organisation, dedup_id); a row older than the window is
-- replaced by the next event that uses the same dedup_id.
CREATE TABLE dedup (
    organization_id TEXT NOT NULL,
    dedup_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organization_id, dedup_id)
);

CREATE INDEX dedup_by_age ON dedup (created_at);
