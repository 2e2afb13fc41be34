"""Change stock at this store through the ledger: receive, correct, history, CSV import."""
