-- no-transaction
-- The key of the partitioned contract audit holds the partition column:
-- (contract_id, seq, at). Built concurrently (writes go on), then made the
-- old table's primary key when it becomes a partition.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS contract_audit_seq_at_key ON contract_audit (contract_id, seq, at);
