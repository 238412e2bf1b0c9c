"""I/O use cases: observe, execute, the Hub steps, sync, review, rollback, reviewer details."""
