-- Scheduled list sends (digest send --list --at): performed by `digest serve` (or `digest send --due` from cron) at
-- their time, claimed by one process at a time.
CREATE TABLE scheduled (
    id INTEGER PRIMARY KEY,
    letter TEXT NOT NULL,                -- the letter's date, YYYY-MM-DD
    fingerprint TEXT NOT NULL,           -- the build that was scheduled: a rebuild holds the send
    at TEXT NOT NULL,                    -- when, in UTC (ISO 8601)
    list TEXT NOT NULL DEFAULT '',       -- a CSV of recipients; '' for the subscriber store
    state TEXT NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'sending', 'done', 'cancelled', 'held')),
    created TEXT NOT NULL,
    claimed_by TEXT NOT NULL DEFAULT '', -- host:pid of the process sending it
    heartbeat TEXT NOT NULL DEFAULT '',  -- that process's last sign of life
    reason TEXT NOT NULL DEFAULT '',     -- why it is held (a code: late, rebuilt, not-approved, stale, error)
    detail TEXT NOT NULL DEFAULT '',     -- the held send's words, for the team
    counts TEXT NOT NULL DEFAULT ''      -- the journal's counts at the end, JSON
);
CREATE INDEX scheduled_due ON scheduled (state, at);
