-- Login and registration attempts per client address and fixed window. The embedded database
-- serves one process, which limits in memory; the table keeps both schemas alike and lets the
-- shared counter run on SQLite too.
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    client       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    PRIMARY KEY (bucket, client, window_start)
);

CREATE INDEX rate_limits_window ON rate_limits (window_start);
