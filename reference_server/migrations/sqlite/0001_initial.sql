-- The initial schema: organisations with their key hash and webhook, events,
-- and the per-organisation deduplication window.

CREATE TABLE organizations (
    id             TEXT PRIMARY KEY NOT NULL,
    name           TEXT NOT NULL,
    tier           TEXT NOT NULL,
    api_key_hash   TEXT NOT NULL UNIQUE,
    webhook_url    TEXT,
    webhook_secret TEXT,
    created_at     INTEGER NOT NULL
);

-- `seq` gives the storage order that inbox cursors page by; the single
-- writer of SQLite makes it equal to the commit order.
CREATE TABLE events (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT NOT NULL UNIQUE,
    organization_id      TEXT NOT NULL REFERENCES organizations (id),
    event_type           TEXT NOT NULL,
    payload              TEXT NOT NULL,
    dedup_id             TEXT,
    status               TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    last_error           TEXT,
    last_response_status INTEGER,
    next_attempt_at      INTEGER,
    created_at           INTEGER NOT NULL,
    delivered_at         INTEGER
);

CREATE INDEX events_by_organization ON events (organization_id, seq);
CREATE INDEX events_due ON events (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

-- One row per (organisation, dedup_id); a row older than the window is
-- replaced by the next event that uses the same dedup_id.
CREATE TABLE dedup (
    organization_id TEXT NOT NULL,
    dedup_id        TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (organization_id, dedup_id)
);
