-- The ops funnel counts transitions per minute: an index on the transition time.
CREATE INDEX claim_events_transition_at ON claim_events (at) WHERE kind = 'transition';
