"""What stops a read model (kept apart from the machinery, so that the CLI's error handling imports
no database library)."""

from __future__ import annotations


class BadEvent(Exception):
    """An event that cannot be applied to a read model (not one the application would have written:
    ``audit verify`` names it); the read model stops before it, and stays as it was."""

    def __init__(self, position: int, projection: str, error: BaseException) -> None:
        said = " ".join(str(error).split()) or type(error).__name__
        super().__init__(f"event {position} cannot be applied to the {projection} read model ({said}); it stays "
                         "as it was before that event: `renovation audit verify` names what is wrong")
