-- Daily settlements to agencies: one per agency and Bahrain business day.

CREATE TABLE settlements (
    agency_id UUID NOT NULL REFERENCES agencies (id),
    business_day DATE NOT NULL,
    amount_fils BIGINT NOT NULL,
    entry_id BIGINT REFERENCES journal_entries (id),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (agency_id, business_day)
);
