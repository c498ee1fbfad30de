-- The letter an accepted contribution was put into (its month, YYYY-MM): its contact is told which one, and the
-- desk says it. Contributions accepted before keep '' (their mail said "the next letter").
ALTER TABLE contribution ADD COLUMN letter TEXT NOT NULL DEFAULT '';
