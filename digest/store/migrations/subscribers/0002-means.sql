-- How each change came (one-click, page, bounce, import…) as a column of its own: it was read back from the
-- free-text reason, in French or English. Older rows get theirs from those words, once, here.
ALTER TABLE subscriber ADD COLUMN means TEXT NOT NULL DEFAULT '';
ALTER TABLE event ADD COLUMN means TEXT NOT NULL DEFAULT '';
CREATE TEMP TABLE means_word (word TEXT NOT NULL, means TEXT NOT NULL, rank INTEGER NOT NULL);
INSERT INTO means_word (word, means, rank) VALUES
    ('one-click', 'one-click', 1), ('page', 'page', 2), ('import', 'import', 3),
    ('subscribers remove', 'subscribers remove', 4), ('added', 'subscribers add', 5), ('formulaire', 'form', 6),
    ('mail', 'mail', 7);
UPDATE event SET means = CASE
    WHEN kind IN ('bounced', 'soft-bounce') THEN 'bounce'
    WHEN kind = 'complained' THEN 'complaint'
    ELSE coalesce((SELECT means FROM means_word WHERE lower(detail) LIKE '%' || word || '%' ORDER BY rank LIMIT 1), '')
    END;
UPDATE subscriber SET means = CASE
    WHEN status = 'bounced' THEN 'bounce'
    WHEN status = 'complained' THEN 'complaint'
    ELSE coalesce((SELECT means FROM means_word WHERE lower(reason) LIKE '%' || word || '%' ORDER BY rank LIMIT 1), '')
    END;
DROP TABLE means_word;
