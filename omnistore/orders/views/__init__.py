"""The orders screens."""
