"""How the domain's values are written into an event's JSON: decimals as plain strings, dates in
ISO 8601, the domain's dataclasses as objects of their fields."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from renovation.domain.values import VALUE_TYPES


class DecimalAsPlainStr(Transcoding):
    """Decimals as plain strings (``"4200"``, ``"0.50"``), keeping their scale; never exponents."""

    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return format(obj, "f")

    def decode(self, data: str) -> Decimal:
        return Decimal(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass of the domain as an object of its fields (nested values transcoded too)."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DecimalAsPlainStr())
    transcoder.register(DateAsISO())
    for cls in VALUE_TYPES:
        transcoder.register(DataclassAsDict(cls))
