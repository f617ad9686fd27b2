-- processed_messages is pruned by age (Service.prune_processed): a BRIN index on the
-- insertion time finds the oldest rows without scanning the table, and costs next to
-- nothing per insert.
CREATE INDEX IF NOT EXISTS processed_messages_at ON processed_messages USING brin (processed_at);
