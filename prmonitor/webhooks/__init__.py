"""The webhook receiver: verify, dedupe and dispatch each delivery in one transaction."""
