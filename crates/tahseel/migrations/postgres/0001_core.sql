-- Core schema: catalog, bills, payments, refunds and the double-entry ledger.
-- Money is BIGINT fils; times are TIMESTAMPTZ in UTC.

CREATE TABLE hub_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE agencies (
    id UUID PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_en TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    iban TEXT,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE services (
    id UUID PRIMARY KEY,
    agency_id UUID NOT NULL REFERENCES agencies (id),
    code TEXT NOT NULL,
    name_en TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('bill', 'fee')),
    fee_fils BIGINT CHECK (fee_fils > 0),
    allow_partial BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT services_agency_code UNIQUE (agency_id, code)
);

CREATE TABLE api_keys (
    id UUID PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('agency', 'admin')),
    agency_id UUID REFERENCES agencies (id),
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    CHECK ((role = 'agency') = (agency_id IS NOT NULL))
);

CREATE TABLE bills (
    id UUID PRIMARY KEY,
    agency_id UUID NOT NULL REFERENCES agencies (id),
    service_id UUID NOT NULL REFERENCES services (id),
    reference TEXT NOT NULL,
    payer TEXT NOT NULL,
    amount_due_fils BIGINT NOT NULL CHECK (amount_due_fils > 0),
    amount_paid_fils BIGINT NOT NULL CHECK (amount_paid_fils >= 0),
    amount_held_fils BIGINT NOT NULL CHECK (amount_held_fils >= 0),
    due_date DATE NOT NULL,
    expires_at TIMESTAMPTZ,
    state TEXT NOT NULL CHECK (state IN ('open', 'partially_paid', 'paid', 'cancelled', 'expired')),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT bills_agency_reference UNIQUE (agency_id, reference),
    CHECK (amount_paid_fils + amount_held_fils <= amount_due_fils)
);
CREATE INDEX bills_payer ON bills (payer);

CREATE TABLE payments (
    id UUID PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    channel TEXT NOT NULL,
    method TEXT NOT NULL,
    acquirer TEXT NOT NULL,
    acquirer_ref TEXT UNIQUE,
    next_url TEXT,
    total_fils BIGINT NOT NULL CHECK (total_fils > 0),
    state TEXT NOT NULL,
    failure_reason TEXT,
    card_brand TEXT,
    card_last4 TEXT CHECK (card_last4 IS NULL OR length(card_last4) = 4),
    receipt_no BIGINT UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    captured_at TIMESTAMPTZ,
    CONSTRAINT payments_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX payments_state_created ON payments (state, created_at);

CREATE TABLE payment_lines (
    payment_id UUID NOT NULL REFERENCES payments (id),
    line_no INTEGER NOT NULL,
    bill_id UUID NOT NULL REFERENCES bills (id),
    agency_id UUID NOT NULL REFERENCES agencies (id),
    amount_fils BIGINT NOT NULL CHECK (amount_fils > 0),
    PRIMARY KEY (payment_id, line_no)
);
CREATE INDEX payment_lines_bill ON payment_lines (bill_id);
CREATE INDEX payment_lines_agency ON payment_lines (agency_id, payment_id);

CREATE TABLE receipts (
    no BIGSERIAL PRIMARY KEY,
    payment_id UUID NOT NULL UNIQUE REFERENCES payments (id)
);

CREATE TABLE refunds (
    id UUID PRIMARY KEY,
    payment_id UUID NOT NULL REFERENCES payments (id),
    agency_id UUID NOT NULL REFERENCES agencies (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    amount_fils BIGINT NOT NULL CHECK (amount_fils > 0),
    state TEXT NOT NULL CHECK (state IN ('requested', 'refunded', 'failed')),
    reason TEXT NOT NULL,
    failure_reason TEXT,
    acquirer_ref TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT refunds_idempotency_key UNIQUE (agency_id, idempotency_key)
);
CREATE INDEX refunds_payment ON refunds (payment_id);

CREATE TABLE ledger_accounts (
    name TEXT PRIMARY KEY,
    debits_fils BIGINT NOT NULL DEFAULT 0,
    credits_fils BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE journal_entries (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payment_id UUID REFERENCES payments (id),
    refund_id UUID REFERENCES refunds (id),
    bill_id UUID REFERENCES bills (id),
    posted_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX journal_entries_payment ON journal_entries (payment_id);

CREATE TABLE postings (
    id BIGSERIAL PRIMARY KEY,
    entry_id BIGINT NOT NULL REFERENCES journal_entries (id),
    account TEXT NOT NULL REFERENCES ledger_accounts (name),
    side TEXT NOT NULL CHECK (side IN ('debit', 'credit')),
    amount_fils BIGINT NOT NULL CHECK (amount_fils > 0)
);
CREATE INDEX postings_entry ON postings (entry_id);
CREATE INDEX postings_account ON postings (account);

-- The ledger is append-only: corrections are new entries.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
