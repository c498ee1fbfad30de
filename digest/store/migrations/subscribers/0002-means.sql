-- How each change came (one-click, page, bounce, import…) as a column of its own: it was read back from the
-- free-text reason, in French or English. Older rows get theirs from those reasons, once, here.
ALTER TABLE subscriber ADD COLUMN means TEXT NOT NULL DEFAULT '';
ALTER TABLE event ADD COLUMN means TEXT NOT NULL DEFAULT '';
UPDATE event SET means = CASE
    WHEN kind IN ('bounced', 'soft-bounce') THEN 'bounce'
    WHEN kind = 'complained' THEN 'complaint'
    WHEN lower(detail) LIKE '%one-click%' THEN 'one-click'
    WHEN lower(detail) LIKE '%page%' THEN 'page'
    WHEN lower(detail) LIKE '%import%' THEN 'import'
    WHEN lower(detail) LIKE '%subscribers remove%' THEN 'subscribers remove'
    WHEN lower(detail) LIKE '%added%' THEN 'subscribers add'
    WHEN lower(detail) LIKE '%formulaire%' THEN 'form'
    WHEN lower(detail) LIKE '%mail%' THEN 'mail'
    ELSE '' END;
UPDATE subscriber SET means = CASE
    WHEN status = 'bounced' THEN 'bounce'
    WHEN status = 'complained' THEN 'complaint'
    WHEN lower(reason) LIKE '%one-click%' THEN 'one-click'
    WHEN lower(reason) LIKE '%page%' THEN 'page'
    WHEN lower(reason) LIKE '%import%' THEN 'import'
    WHEN lower(reason) LIKE '%subscribers remove%' THEN 'subscribers remove'
    WHEN lower(reason) LIKE '%added%' THEN 'subscribers add'
    WHEN lower(reason) LIKE '%formulaire%' THEN 'form'
    WHEN lower(reason) LIKE '%mail%' THEN 'mail'
    ELSE '' END;
