-- no-transaction
-- The key of the partitioned activity trail holds the partition column:
-- (id, at). Built concurrently (writes go on), then made the old table's
-- primary key when it becomes a partition.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS booking_activity_id_at_key ON booking_activity (id, at);
