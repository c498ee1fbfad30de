-- An erasure: the links of the person's sign-up and contributions stop working.
DELETE FROM pended WHERE (kind = 'signup' AND ref IN (SELECT id FROM pending WHERE key = :key))
    OR (kind = 'contribution' AND ref IN (SELECT id FROM contribution WHERE key = :key));
