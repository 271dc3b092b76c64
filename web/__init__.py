"""The web workspace and JSON API (``rectify serve``): the officials' way in, and the trust boundary.

Pages and API endpoints authenticate the official (a session cookie or a bearer token), build a
``Caller`` for them and call the same ``engine.services`` as the command line: permissions,
jurisdiction, audit and refusals are decided there, never here. This package knows HTTP; the
engine does not know this package.
"""
