"""The integration API for web shops and ERPs (/api/v1)."""
