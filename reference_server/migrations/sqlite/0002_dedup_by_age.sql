-- Lets housekeeping find expired deduplication entries without a full scan.
CREATE INDEX dedup_by_age ON dedup (created_at);
