-- The two mail queues of digest 0.1.0: the sign-ups' confirmation mails and the contributions' mails.
CREATE TABLE IF NOT EXISTS outmail (
    id INTEGER PRIMARY KEY,
    pending INTEGER NOT NULL,
    due TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    claimed TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS contribmail (
    id INTEGER PRIMARY KEY,
    contribution INTEGER NOT NULL,
    kind TEXT NOT NULL,
    due TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    claimed TEXT NOT NULL DEFAULT ''
);
