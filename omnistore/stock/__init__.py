"""Stock: the ledger of movements, levels and summaries, safety stock, the network's availability."""
