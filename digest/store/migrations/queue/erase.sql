-- An erasure: the mails waiting about the person's sign-up and contributions.
DELETE FROM mail WHERE (kind = 'signup-confirm' AND ref IN (SELECT id FROM pending WHERE key = :key))
    OR (kind LIKE 'contribution-%' AND ref IN (SELECT id FROM contribution WHERE key = :key));
