-- The per-claim serialisation every saga step takes, and the claim's row, in one round trip.
-- Events of one claim arrive on several topics, consumed concurrently, and the first of
-- them creates the row, so a row lock alone cannot serialise them: an advisory lock on
-- the claim id first, then the row FOR UPDATE.
--
-- p_resolve: the event names the claim by CLM01 (acknowledgements, remittances,
-- statements): a CLM01 that is no claim id but was sent for a claim (a new original under
-- a new CLM01) means that claim.
--
-- Always one row: the claim id, and its columns (state NULL when there is no claim yet).
CREATE FUNCTION claim_for_update(p_name text, p_resolve boolean DEFAULT false)
RETURNS TABLE (claim_id text, state text, tenant text, frequency_code text,
               payer_claim_number text, payer_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_id text := p_name;
BEGIN
    IF p_resolve AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.claim_id = p_name) THEN
        SELECT s.claim_id INTO v_id FROM submissions s
            WHERE s.patient_control_number = p_name ORDER BY s.id LIMIT 1;
        v_id := coalesce(v_id, p_name);
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(v_id, 0));
    RETURN QUERY
        SELECT c.claim_id, c.state, c.tenant, c.frequency_code, c.payer_claim_number, c.payer_id
        FROM claims c WHERE c.claim_id = v_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT v_id, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text;
    END IF;
END $$;
