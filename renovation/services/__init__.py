"""The use cases: what the CLI and the web board call."""


def warn(logger: str, message: str, *args: object) -> None:
    """A warning in ``logger``'s log, ``logging`` imported only then: a command that warns of nothing
    does not pay for its import (about 2 ms of every command's start)."""
    import logging

    logging.getLogger(logger).warning(message, *args)
