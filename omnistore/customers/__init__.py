"""Customers: the records, contact details, consents, sizes, visits, wishlists; finding one."""
