"""rectify's engine: workflow definitions, the shared state machine, the store and the daemon.

Nothing in this package imports click: the CLI (``cli.py``) is the only user interface layer.
"""
