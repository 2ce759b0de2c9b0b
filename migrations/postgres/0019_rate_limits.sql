-- Login and registration attempts per client address and fixed window, shared by every node.
CREATE TABLE rate_limits (
    bucket       TEXT NOT NULL,
    client       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    PRIMARY KEY (bucket, client, window_start)
);

CREATE INDEX rate_limits_window ON rate_limits (window_start);
