-- What eligibility lets others read (docs/views.md). A view is a contract: its columns
-- keep their names and meaning; a change that breaks them is a new view (_v2).

-- Each real-time exchange with the clearinghouse's CAQH CORE endpoint: the 270 sent and
-- the 271 received (NULL when none came), how it ended. Reused 271s are no new row.
CREATE VIEW exchange_v1 AS
SELECT id AS exchange_id, claim_id, tenant, payer_id, trace, request_x12, response_x12,
       outcome, problem, elapsed_ms, at
FROM exchanges;
