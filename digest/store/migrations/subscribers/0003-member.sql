-- The member authority the team says a subscriber belongs to (digest subscribers set ADDRESS --member NAME, an
-- import's `adherent` column): that subscriber receives the members' edition. '' for none (the members file's
-- domains may still make them a member).
ALTER TABLE subscriber ADD COLUMN member TEXT NOT NULL DEFAULT '';
