"""Reviews: the manager's figures of pickups and handovers."""
