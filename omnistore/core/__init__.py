"""The shared core: extensions, settings, the database session, errors, audit, outbox and webhooks.

It imports no domain."""
