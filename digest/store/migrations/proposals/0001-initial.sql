-- The members' sites' articles digest proposed to the team (digest.proposals): one row per article, numbered once
-- (the number `digest proposals accept N` takes), and what the team decided. A dismissed article stays dismissed.
CREATE TABLE proposal (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,            -- the article's uid (its address, as its feed names it)
    member TEXT NOT NULL,                -- the member authority, from the members file
    title TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT '',  -- ISO 8601, as the feed dated it
    summary TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL DEFAULT '',
    why TEXT NOT NULL DEFAULT '[]',      -- the topics found, a JSON array
    section TEXT NOT NULL,
    audience TEXT NOT NULL DEFAULT 'all',
    seen TEXT NOT NULL,                  -- when digest first proposed it
    state TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'accepted', 'dismissed')),
    decided TEXT NOT NULL DEFAULT '',
    letter TEXT NOT NULL DEFAULT ''      -- the letter it was accepted into, YYYY-MM
);
