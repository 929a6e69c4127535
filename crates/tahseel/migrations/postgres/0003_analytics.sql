-- Collections analytics: daily rollups kept with every capture and refund,
-- imported history, refunds per bill line.

CREATE TABLE daily_rollups (
    day DATE NOT NULL,
    agency TEXT NOT NULL,
    service TEXT NOT NULL,
    channel TEXT NOT NULL,
    method TEXT NOT NULL,
    captured_count BIGINT NOT NULL DEFAULT 0,
    captured_fils BIGINT NOT NULL DEFAULT 0,
    refunded_count BIGINT NOT NULL DEFAULT 0,
    refunded_fils BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, agency, service, channel, method)
);

ALTER TABLE payments ADD COLUMN import_ref TEXT;
CREATE UNIQUE INDEX payments_import_ref ON payments (import_ref);

ALTER TABLE refunds ADD COLUMN bill_id UUID REFERENCES bills (id);

CREATE INDEX journal_entries_posted ON journal_entries (posted_at);
