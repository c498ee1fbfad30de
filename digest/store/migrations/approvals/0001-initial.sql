-- Approval of a letter before its list send ([send] approvers): one row per approver asked about one build of one
-- letter (its fingerprint), and their answer. The journal of who approved what, when.
CREATE TABLE approval (
    id INTEGER PRIMARY KEY,
    letter TEXT NOT NULL,                -- the letter's date, YYYY-MM-DD
    fingerprint TEXT NOT NULL,           -- the build the approver was asked about
    subject TEXT NOT NULL DEFAULT '',    -- its subject, as asked (for the team's lists)
    approver TEXT NOT NULL,              -- the address asked: the answer is theirs, never the request's word
    asked TEXT NOT NULL,
    answer TEXT NOT NULL DEFAULT '' CHECK (answer IN ('', 'approved', 'changes')),
    comment TEXT NOT NULL DEFAULT '',
    answered TEXT NOT NULL DEFAULT ''
);
CREATE INDEX approval_letter ON approval (letter, fingerprint);
