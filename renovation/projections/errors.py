"""What stops a read model (kept apart from the machinery, so that the CLI's error handling imports
no database library)."""

from __future__ import annotations

from collections.abc import Sequence


class BadEvent(Exception):
    """An event that cannot be applied to a read model (not one the application would have written:
    ``audit verify`` names it); the read model stops before it, and stays as it was. The other read
    models of the same catch-up go on past it."""

    def __init__(self, position: int, projections: str | Sequence[str], error: BaseException,
                 upto: int | None = None) -> None:
        self.projections = (projections,) if isinstance(projections, str) else tuple(projections)
        said = " ".join(str(error).split()) or type(error).__name__
        which = (f"the {self.projections[0]} read model" if len(self.projections) == 1
                 else f"the {', '.join(self.projections)} read models")
        what = f"event {position}" if upto is None or upto == position else f"an event of positions {position}-{upto}"
        super().__init__(f"{what} cannot be applied to {which} ({said}); it stays as it was before that event: "
                         "`renovation audit verify` names what is wrong")


class NotSetUp(Exception):
    """This version of the tracker has read models the store does not have yet, and this login may not
    make them (on PostgreSQL after ``db roles --apply``)."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"this version of the tracker changed the {', '.join(names)} read model"
                         f"{'s' if len(names) > 1 else ''}, which this login may not set up: a superuser runs "
                         "`renovation db roles --apply` again, then the projector's login catches them up "
                         "(`renovation projections rebuild`)")


class BadValue(Exception):
    """A value in a read model's table that its column cannot read (a decimal, date or time that is not
    one, or a time without its zone): no read model writes such a value, so it was written by hand. The
    board stops with this one line; ``audit boards`` names the row, and a rebuild makes the read models
    again from the log. Met while catching up, it stops that read model (``projections``) alone."""

    def __init__(self, what: str, value: object, projection: str | None = None, *, in_a_row: bool = True) -> None:
        self.what, self.value, self.in_a_row = what, value, in_a_row
        self.projections = () if projection is None else (projection,)
        shown = repr(value)
        if len(shown) > 60:
            shown = f"{shown[:57]}..."
        which = f"the {projection} read model" if projection else "a read model"
        named = "`renovation audit boards` names the row, " if in_a_row else ""  # not its position's
        super().__init__(f"{which} holds {shown} where {what} belongs (not written by the tracker): "
                         f"{named}`renovation projections rebuild` makes the read models again from the log")

    def of(self, projection: str) -> BadValue:
        """The same, met while ``projection`` applied an event."""
        return BadValue(self.what, self.value, projection, in_a_row=self.in_a_row)
