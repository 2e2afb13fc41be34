"""Personal offers and loyalty rewards: what a manager defines, who it is issued to, the discount it gives and
its uses (below orders: placing an order redeems one, cancelling gives the use back)."""
