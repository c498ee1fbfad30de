-- An erasure: contributions not published go with their pictures; published ones lose the address that sent them.
DELETE FROM contribpicture WHERE name IN (SELECT picture FROM contribution WHERE key = :key AND status != 'accepted')
    AND name NOT IN (SELECT picture FROM contribution WHERE key IS NOT :key OR status = 'accepted');
DELETE FROM contribution WHERE key = :key AND status != 'accepted';
UPDATE contribution SET key = NULL, email = '' WHERE key = :key;
