-- Daily settlements to agencies: one per agency and Bahrain business day.

CREATE TABLE settlements (
    agency_id BLOB NOT NULL REFERENCES agencies (id),
    business_day TEXT NOT NULL,
    amount_fils INTEGER NOT NULL,
    entry_id INTEGER REFERENCES journal_entries (id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (agency_id, business_day)
);
