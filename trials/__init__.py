"""Clinical-trial registry, search index and eligibility matching."""
