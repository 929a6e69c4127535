-- Acquirers: per-method fees, refused or unapplied notices, settlement reconciliations.

ALTER TABLE payments ADD COLUMN fee_fils BIGINT NOT NULL DEFAULT 0 CHECK (fee_fils >= 0);

CREATE TABLE acquirer_exceptions (
    id UUID PRIMARY KEY,
    acquirer TEXT NOT NULL,
    kind TEXT NOT NULL,
    payment_id UUID,
    detail TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX acquirer_exceptions_created ON acquirer_exceptions (created_at);

CREATE TABLE settlement_reconciliations (
    id UUID PRIMARY KEY,
    acquirer TEXT NOT NULL,
    settlement_date DATE NOT NULL,
    source TEXT NOT NULL,
    matched INTEGER NOT NULL,
    mismatched INTEGER NOT NULL,
    report TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX payments_captured ON payments (acquirer, captured_at);
CREATE INDEX refunds_state_updated ON refunds (state, updated_at);
