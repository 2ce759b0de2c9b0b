-- The background jobs delete webhook events older than 30 days in small batches, oldest first;
-- this index finds them without reading the whole table (idempotency keys and rate-limit windows
-- have theirs already: idempotency_keys_created, rate_limits_window).
CREATE INDEX webhook_events_received ON webhook_events (received_at);
