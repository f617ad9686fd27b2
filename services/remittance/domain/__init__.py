"""Remittance decisions, pure: ``adjudication`` (what a CLP means for the claim),
``ledger`` (how it posts; underpayments), ``matching`` (which claim it pays),
``posting`` (the rows one 835 posts)."""
