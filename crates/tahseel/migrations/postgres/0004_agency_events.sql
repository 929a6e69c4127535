-- Agencies: webhook endpoints and secrets, and the outbox of events that
-- tells them what was paid, refunded or cancelled.

ALTER TABLE agencies ADD COLUMN webhook_url TEXT;

CREATE TABLE agency_secrets (
    id UUID PRIMARY KEY,
    agency_id UUID NOT NULL REFERENCES agencies (id),
    secret TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- Set when a newer secret replaces this one; it still signs until then.
    expires_at TIMESTAMPTZ
);
CREATE INDEX agency_secrets_agency ON agency_secrets (agency_id, created_at);

CREATE TABLE events (
    seq BIGSERIAL PRIMARY KEY,
    id UUID NOT NULL UNIQUE,
    agency_id UUID NOT NULL REFERENCES agencies (id),
    bill_id UUID REFERENCES bills (id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    delivery TEXT NOT NULL CHECK (delivery IN ('pending', 'delivered', 'dead', 'none')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error TEXT,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX events_due ON events (delivery, next_attempt_at);
CREATE INDEX events_agency ON events (agency_id, seq);
CREATE INDEX events_bill ON events (bill_id, seq);
