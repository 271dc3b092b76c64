"""The ``rectify`` sub-commands, one module per area, loaded only when one of them runs.

A command parses its arguments, calls an engine service (``engine.services``) and prints what
it returns; it holds no policy and runs no query of its own (see docs/architecture.md).
"""
