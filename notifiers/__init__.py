"""Notice rendering and delivery channels (one module per channel)."""
