-- An erasure: a sign-up waiting for its confirmation goes; consent records keep only their counts.
DELETE FROM pending WHERE key = :key;
UPDATE consent SET key = NULL, origin = '', ip = '', detail = '' WHERE key = :key;
