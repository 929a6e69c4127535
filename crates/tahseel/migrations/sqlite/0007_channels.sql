-- Channels: kiosks and their cash boxes, browser sessions and citizen sign-in.

CREATE TABLE kiosks (
    id BLOB PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_en TEXT NOT NULL,
    name_ar TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- The kiosk a payment was made at (its code), for card and cash alike.
ALTER TABLE payments ADD COLUMN kiosk TEXT;
CREATE INDEX payments_kiosk ON payments (kiosk) WHERE kiosk IS NOT NULL;

-- Counted cash boxes, each with the entry that emptied the box in the ledger.
CREATE TABLE cashups (
    id BLOB PRIMARY KEY,
    kiosk_id BLOB NOT NULL REFERENCES kiosks (id),
    expected_fils INTEGER NOT NULL,
    counted_fils INTEGER NOT NULL,
    entry_id INTEGER REFERENCES journal_entries (id),
    counted_at TEXT NOT NULL
);
CREATE INDEX cashups_kiosk ON cashups (kiosk_id, counted_at);

-- Browser sessions: a signed-in citizen, an admin, or one visitor at a
-- kiosk. Only a hash of the cookie is kept.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('citizen', 'admin', 'kiosk_visit')),
    payer TEXT,
    name TEXT,
    kiosk TEXT,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);

-- OpenID Connect sign-ins under way: state and nonce until the provider
-- sends the citizen back.
CREATE TABLE login_attempts (
    state TEXT PRIMARY KEY,
    nonce TEXT NOT NULL,
    return_to TEXT NOT NULL,
    created_at TEXT NOT NULL
);
