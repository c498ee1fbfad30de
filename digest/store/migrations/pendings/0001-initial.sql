-- Confirmations waiting (Mailman's Pendings): opaque random tokens, kept as their SHA-256 only, each naming
-- what it confirms (a sign-up, a contribution) and until when.
CREATE TABLE IF NOT EXISTS pended (
    hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ref INTEGER NOT NULL,
    expires TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pended_ref ON pended (kind, ref);
