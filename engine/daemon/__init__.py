"""The daemon: firing due timers (one by one and in chunks), delivering the outbox, the loop
that runs both, and looking after timers that could not fire."""
