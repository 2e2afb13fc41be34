"""Click and collect: pickups, codes and the desk's handover, deadlines, the customer's order page."""
