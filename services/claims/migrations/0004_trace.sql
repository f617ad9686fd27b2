-- Each claim keeps its own trace context, so work done for it by a timer (a batch of
-- claims sent in one interchange) stays in the claim's one trace.
ALTER TABLE claims ADD COLUMN traceparent text;
