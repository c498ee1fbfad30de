-- The subscribers as digest 0.1.0 made them (IF NOT EXISTS: a store of that version adopts this step as is).
CREATE TABLE IF NOT EXISTS subscriber (
    key TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL CHECK (status IN ('subscribed', 'unsubscribed', 'bounced', 'complained')),
    reason TEXT NOT NULL DEFAULT '',
    letter TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    changed TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    fields TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS subscriber_status ON subscriber (status);
CREATE TABLE IF NOT EXISTS event (
    id INTEGER PRIMARY KEY,
    key TEXT,
    letter TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_key ON event (key);
CREATE TABLE IF NOT EXISTS erased (hash TEXT PRIMARY KEY, at TEXT NOT NULL);
