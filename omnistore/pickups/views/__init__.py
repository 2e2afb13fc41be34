"""The pickups screens."""
