"""Orders: drafts at the counter, placing, sourcing, transfers between stores, the order desk, and the notifications an
order sends."""
