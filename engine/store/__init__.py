"""The store: the tables, connections and transactions (SQLite or PostgreSQL), migrations."""
