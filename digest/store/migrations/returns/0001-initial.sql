-- The returned mails already read (bounces, complaints, unsubscribe mails), so a rerun changes nothing.
CREATE TABLE IF NOT EXISTS processed (id TEXT PRIMARY KEY, at TEXT NOT NULL);
