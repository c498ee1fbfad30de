-- Contributions from member cities and their pictures (digest 0.1.0).
CREATE TABLE IF NOT EXISTS contribution (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    key TEXT,
    email TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL,
    authority TEXT NOT NULL,
    member TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL,
    text TEXT NOT NULL,
    link TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL DEFAULT '',
    place TEXT NOT NULL DEFAULT '',
    start TEXT NOT NULL DEFAULT '',
    picture TEXT NOT NULL DEFAULT '',
    alt TEXT NOT NULL DEFAULT '',
    nonce TEXT NOT NULL,
    received TEXT NOT NULL,
    confirmed TEXT NOT NULL DEFAULT '',
    decided TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    published TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS contribution_key ON contribution (key);
CREATE TABLE IF NOT EXISTS contribpicture (name TEXT PRIMARY KEY, thumb BLOB NOT NULL, web BLOB NOT NULL);
