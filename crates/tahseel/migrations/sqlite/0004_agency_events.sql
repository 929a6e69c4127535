-- Agencies: webhook endpoints and secrets, and the outbox of events that
-- tells them what was paid, refunded or cancelled.

ALTER TABLE agencies ADD COLUMN webhook_url TEXT;

CREATE TABLE agency_secrets (
    id BLOB PRIMARY KEY,
    agency_id BLOB NOT NULL REFERENCES agencies (id),
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- Set when a newer secret replaces this one; it still signs until then.
    expires_at TEXT
);
CREATE INDEX agency_secrets_agency ON agency_secrets (agency_id, created_at);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    agency_id BLOB NOT NULL REFERENCES agencies (id),
    bill_id BLOB REFERENCES bills (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivery TEXT NOT NULL CHECK (delivery IN ('pending', 'delivered', 'dead', 'none')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    delivered_at TEXT
);
CREATE INDEX events_due ON events (delivery, next_attempt_at);
CREATE INDEX events_agency ON events (agency_id, seq);
CREATE INDEX events_bill ON events (bill_id, seq);
