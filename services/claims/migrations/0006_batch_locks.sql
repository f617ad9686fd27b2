-- A batch's per-claim locks in one round trip (services/claims/handlers.prelock).
--
-- claim_for_update() locks one claim per call, in the order a batch's events arrive. A
-- service consumes several topics at once, one batch per topic, each batch one
-- transaction: two batches that lock the same claims in opposite orders deadlock, and
-- PostgreSQL breaks the tie only after deadlock_timeout (1 s), then one batch is redone.
-- Taking every lock a batch needs up front, in claim id order, rules that out.
--
-- p_names/p_resolve are claim_for_update()'s arguments, one pair per element; the answer
-- has one row per element: the name and flag asked for, the claim id it resolved to and
-- the claim's columns (state NULL when there is no claim yet).
CREATE FUNCTION claims_for_update(p_names text[], p_resolve boolean[])
RETURNS TABLE (name text, resolve boolean, claim_id text, state text, tenant text,
               frequency_code text, payer_claim_number text, payer_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    v_ids text[];
    v_id text;
BEGIN
    IF coalesce(array_length(p_names, 1), 0) <> coalesce(array_length(p_resolve, 1), 0) THEN
        RAISE EXCEPTION 'claims_for_update: % names but % resolve flags',
            array_length(p_names, 1), array_length(p_resolve, 1);
    END IF;
    SELECT array_agg(
             CASE WHEN u.rs AND NOT EXISTS (SELECT 1 FROM claims c WHERE c.claim_id = u.nm)
                  THEN coalesce((SELECT s.claim_id FROM submissions s
                                 WHERE s.patient_control_number = u.nm
                                 ORDER BY s.id LIMIT 1), u.nm)
                  ELSE u.nm END
             ORDER BY u.ord)
      INTO v_ids
      FROM unnest(p_names, p_resolve) WITH ORDINALITY AS u(nm, rs, ord);
    FOR v_id IN SELECT DISTINCT x FROM unnest(v_ids) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(v_id, 0));
    END LOOP;
    PERFORM 1 FROM claims c WHERE c.claim_id = ANY(v_ids) ORDER BY c.claim_id FOR UPDATE;
    RETURN QUERY
        SELECT u.nm, u.rs, u.id, c.state, c.tenant, c.frequency_code, c.payer_claim_number,
               c.payer_id
        FROM unnest(p_names, p_resolve, v_ids) AS u(nm, rs, id)
        LEFT JOIN claims c ON c.claim_id = u.id;
END $$;
