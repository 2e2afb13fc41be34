"""Stores: locations with their opening hours, staff, roles and store scope, sessions and sign-in."""
