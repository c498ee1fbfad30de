-- Form posts per client (a keyed hash) and hour: the public forms' caps.
CREATE TABLE IF NOT EXISTS client (hash TEXT NOT NULL, hour TEXT NOT NULL, count INTEGER NOT NULL,
                                   PRIMARY KEY (hash, hour));
