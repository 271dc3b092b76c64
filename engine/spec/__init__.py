"""The workflow specification: the definition schema, loading and whole-graph checks, the
shared state machine, deadlines and the working-day calendar, and drawing the graph. Pure
definitions: no database."""
