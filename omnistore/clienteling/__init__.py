"""Clienteling: a customer's profile across every channel (history, figures, recommendations) and their privacy (access
log, export, erase, merge)."""
