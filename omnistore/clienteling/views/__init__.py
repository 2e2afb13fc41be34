"""The clienteling screens."""
