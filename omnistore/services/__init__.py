"""Business rules: plain functions over the session, one module per domain. No request, no HTML."""
