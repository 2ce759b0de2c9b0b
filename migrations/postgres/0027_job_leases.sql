-- One node at a time runs the periodic jobs (and one the email sender): the holder of a lease row,
-- taken and renewed by one conditional upsert (only while it is free, expired or already the
-- caller's) and given up on a graceful shutdown. `holder` is a random id per process; times are
-- milliseconds since the epoch.
CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
