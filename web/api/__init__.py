"""The JSON API (``/api/v1/…``): the workspace's operations for a 智慧党建 platform, a script or
the CLI in client mode. A per-official bearer token says who calls; every call goes through the
same engine services as the pages and the command line. The OpenAPI document is served at
``/api/v1/openapi.json``."""
