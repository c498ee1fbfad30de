-- Sign-ups waiting for their confirmation, the consent wordings and the consent record (digest 0.1.0).
CREATE TABLE IF NOT EXISTS pending (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    nonce TEXT NOT NULL,
    asked TEXT NOT NULL,
    mailed TEXT NOT NULL,
    wording TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS wording (hash TEXT PRIMARY KEY, text TEXT NOT NULL, first TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS consent (
    id INTEGER PRIMARY KEY,
    key TEXT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    means TEXT NOT NULL,
    wording TEXT NOT NULL DEFAULT '',
    origin TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS consent_key ON consent (key);
