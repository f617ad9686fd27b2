-- How far the service has applied each partition of the topics it tracks
-- (Service.track_positions): the offset of the next message, written in the same
-- transaction as each batch. runtime/positions.py says what it is for.
CREATE TABLE IF NOT EXISTS consumed_positions (
    topic        text NOT NULL,
    partition    int NOT NULL,
    next_offset  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- read_through(topic, ends): whether every message of the topic below ends (one offset
-- per partition, partition 0 first; runtime.positions.TopicEnds) has been applied. The
-- table is found by the caller's search_path: each service's own schema.
CREATE OR REPLACE FUNCTION read_through(p_topic text, p_ends bigint[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1 FROM unnest(p_ends) WITH ORDINALITY AS e(end_offset, n)
        WHERE e.end_offset > coalesce((SELECT c.next_offset FROM consumed_positions c
                                        WHERE c.topic = p_topic AND c.partition = e.n - 1), 0))
$$;
