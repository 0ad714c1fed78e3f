"""``renovation serve``: the boards on the web, read-only, for the bureau's screen and the contractors'
phones. A Starlette application on uvicorn, with Jinja2 templates over the same services and read
models as the command line (``renovation.services``): no board is worked out a second time here."""
