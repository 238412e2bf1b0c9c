"""``imagegate watch`` building blocks: schedule (pure), scheduler loop, metrics, health server."""
