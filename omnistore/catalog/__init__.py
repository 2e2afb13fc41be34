"""The catalogue: products and variants, EANs, search."""
