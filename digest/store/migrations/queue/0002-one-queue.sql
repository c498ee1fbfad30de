-- One queue for every mail the server sends on its own (confirmations, decisions, "the letter is out"): the two
-- queues' rows move into it, each named by its kind and the row it is about.
CREATE TABLE mail (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    ref INTEGER NOT NULL,
    due TEXT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    claimed TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_due ON mail (due);
INSERT INTO mail (kind, ref, due, tries, claimed)
    SELECT 'signup-confirm', pending, due, tries, claimed FROM outmail ORDER BY id;
INSERT INTO mail (kind, ref, due, tries, claimed)
    SELECT CASE kind WHEN 'confirm' THEN 'contribution-confirm' ELSE 'contribution-' || kind END,
           contribution, due, tries, claimed FROM contribmail ORDER BY id;
DROP TABLE outmail;
DROP TABLE contribmail;
