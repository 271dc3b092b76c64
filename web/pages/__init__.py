"""The workspace's pages, one module per area; each route authenticates, calls a service, renders."""
