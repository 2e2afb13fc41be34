"""The channels a customer buys through. Customers, orders and API clients are each tagged with one."""

CHANNELS = ("web", "store", "app", "phone")
