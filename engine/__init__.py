"""rectify's engine, in layers (docs/architecture.md); each imports only those below it:

- ``services``: what a front end calls; the policy (who may do and read what), one transaction
  per call, results reported only after the commit;
- ``daemon`` and ``reports``: firing and delivering; reading for people;
- ``ops``: operations on the campaign inside a caller's transaction;
- ``spec`` and ``store``: the workflow definition and machine; the database;
- ``base``: errors, the clock, failpoints, atomic files, strict YAML.

Nothing in this package imports click or a web framework (an import-linter contract in
``.importlinter`` holds every rule of this list).
"""
