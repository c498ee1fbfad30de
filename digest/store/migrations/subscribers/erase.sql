-- An erasure: the row goes, events keep their counts without the person, a keyed hash stops a later import.
DELETE FROM subscriber WHERE key = :key;
UPDATE event SET key = NULL, detail = '' WHERE key = :key;
INSERT OR IGNORE INTO erased (hash, at) VALUES (:hash, :at);
