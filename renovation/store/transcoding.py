"""How the domain's values are written into an event's JSON: decimals as plain strings, dates in
ISO 8601, the domain's dataclasses as objects of their fields."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import TopicError

from renovation.domain.values import VALUE_TYPES

#: What reading a row the application never wrote can raise: its JSON, its values, its shape, the class its
#: topic names (a database's error is not one of them).
UNREADABLE = (ValueError, TypeError, LookupError, AttributeError, AssertionError, ArithmeticError, RecursionError,
              TopicError)


#: How eventsourcing says it could not decode a stored event's state (naming the event at length).
_UNDECODED = re.compile(r"Failed to deserialise state of stored event with topic '[^']*[.:](?P<kind>\w+)', "
                        r"originator_id '[^']*' and originator_version (?P<version>\d+): (?P<why>.*)\Z")


def described(error: BaseException) -> str:
    """What reading a stored event raised, in a line: the library's words for a state it cannot decode
    shortened to the event's version and kind ("version 12, a QuantityMeasured: ...")."""
    said = " ".join(str(error).split())
    found = _UNDECODED.match(said)
    if found is not None:
        said = f"version {found['version']}, a {found['kind']}: {found['why']}"
    return said


#: A decimal as ``DecimalAsPlainStr`` writes one: digits, a point and digits, no exponent, at most 30 digits
#: before the point and 30 after (an amount the rules keep is below 10**30 with at most 4 places: ``shapes.MAX_VALUE``).
PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")


class DecimalAsPlainStr(Transcoding):
    """Decimals as plain strings (``"4200"``, ``"0.50"``), keeping their scale; never exponents. Read back
    only so: a decimal written by hand with an exponent ("1E+999999999999999999") is refused, not made into
    a number that every sum and rounding after it overflows on."""

    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return format(obj, "f")

    def decode(self, data: str) -> Decimal:
        if type(data) is not str or PLAIN_DECIMAL.fullmatch(data) is None:
            raise ValueError(f"{str(data)[:40]!r} is not a decimal as the application writes one")
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
        self.fields = tuple(field.name for field in dataclasses.fields(cls))

    def encode(self, obj: Any) -> dict[str, Any]:
        return {name: getattr(obj, name) for name in self.fields}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def light_decoder(transcoder: JSONTranscoder) -> json.JSONDecoder:
    """The transcoder's JSON decoding with a lighter hook (the same values): an object of exactly
    ``_type_`` and ``_data_`` is a value of a registered transcoding. An unknown name raises TypeError,
    a value its transcoding refuses what that raises."""
    names = transcoder.names

    def value(found: dict[str, Any]) -> Any:
        if len(found) == 2 and "_type_" in found and "_data_" in found:
            name = found["_type_"]
            transcoding = names.get(name) if type(name) is str else None
            if transcoding is None:
                raise TypeError(f"no value is of the type {str(name)[:40]!r}")
            return transcoding.decode(found["_data_"])
        return found

    return json.JSONDecoder(object_hook=value)


def light_encoder(transcoder: JSONTranscoder) -> Callable[[Any], bytes]:
    """The transcoder's encoding, the same bytes, made cheaper for many values: the JSON module's encoder
    built once (``JSONEncoder.encode`` builds one for each value, and marks each object it enters against
    a circular reference: a value decoded from JSON has none), and each registered type encoded by a
    function of its own. Without the JSON module's C encoder: the transcoder's own encoding."""
    from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]

    if c_make_encoder is None:
        return transcoder.encode
    encoders = {kind: _encoding(transcoding) for kind, transcoding in transcoder.types.items()}

    def default(value: Any) -> Any:
        found = encoders.get(type(value))
        return transcoder._encode_obj(value) if found is None else found(value)  # its error for a type unknown

    encode = c_make_encoder(None, default, encode_basestring, None, ":", ",", False, False, True)
    return lambda value: "".join(encode(value, 0)).encode("utf8")


def line_decoder(transcoder: JSONTranscoder) -> Callable[[bytes], Any]:
    """``light_decoder``'s reading of UTF-8 bytes, faster: orjson's parser, then each object of exactly ``_type_``
    and ``_data_`` made a value of its transcoding, innermost first (as the JSON module's hook is called). What
    orjson refuses (not UTF-8, not JSON, ``NaN``, a lone surrogate, nesting past 1,024), what holds a float
    (which orjson also makes of an integer past 64 bits; the application writes neither) are read by the JSON
    module. The values are then the JSON module's, and so are the errors but two: a value nested deeper than
    ``DEEPEST`` is refused (RecursionError) whichever read it, where the JSON module reads up to about a thousand
    levels (how many depends on the caller's stack); and of a key given twice both keep the last value, where
    the JSON module also decodes the first (and refuses the whole if that does not decode, before anything
    after it; nested deeper than ``DEEPEST``, it is not looked at, as it is not kept). An import therefore reads
    with the JSON module every line not spelled as an export writes it (``Importer.as_exported``), and takes the
    JSON module's error for one this refuses."""
    import orjson

    fallback, loads = light_decoder(transcoder), orjson.loads
    value = fallback.object_hook  # an object whose members are values already, as the value it stands for
    assert value is not None

    def members(found: Any, pairs: Iterable[tuple[Any, Any]], depth: int) -> None:
        """An object's or a list's members (key or index, member) made values in place, innermost first."""
        if depth > DEEPEST:
            raise RecursionError(f"nested deeper than {DEEPEST}")
        for key, member in pairs:
            kind = type(member)
            if kind is dict:
                members(member, member.items(), depth + 1)
                found[key] = value(member)
            elif kind is list:
                members(member, enumerate(member), depth + 1)
            elif kind is float:
                raise _Reread

    def decode(raw: bytes) -> Any:
        try:
            found = loads(raw)
            kind = type(found)
            if kind is dict:
                members(found, found.items(), 1)
                return value(found)
            if kind is list:
                members(found, enumerate(found), 1)
            elif kind is float:
                raise _Reread
            return found
        except (orjson.JSONDecodeError, _Reread):
            found = fallback.decode(raw.decode("utf8"))
            if nested_deeper(found):  # as orjson's is (the JSON module's limit depends on the caller's stack)
                raise RecursionError(f"nested deeper than {DEEPEST}") from None
            return found

    return decode


#: The deepest nesting ``line_decoder`` reads (``nested_deeper``, of what the JSON module read for it): the JSON
#: module refuses a value about a thousand deep, where exactly as Python's recursion limit and the caller's
#: stack have it. No event is nested more than a few levels.
DEEPEST = 100


def nested_deeper(value: Any, most: int = DEEPEST) -> bool:
    """Whether a value holds more than ``most`` objects and lists one in another (``line_decoder`` refuses it)."""
    level: list[Any] = [value]
    for _ in range(most):
        level = [member for found in level if type(found) in (dict, list)
                 for member in (found.values() if type(found) is dict else found)]
        if not any(type(found) in (dict, list) for found in level):
            return False
    return True


class _Reread(Exception):
    """A value ``line_decoder`` leaves to the JSON module."""


def line_encoder(transcoder: JSONTranscoder) -> Callable[[Any], bytes]:
    """``light_encoder``'s bytes, written by orjson, for the values an import's line decodes to and its checks
    let through (``renovation.domain.shapes``): objects with text keys, lists, texts, integers of at most 64
    bits, booleans, null, and the registered types but ``UUID`` (which orjson writes as a text of its own, not
    through the transcoding: no event's field is one)."""
    import orjson

    encoders = {kind: _encoding(transcoding) for kind, transcoding in transcoder.types.items()}

    def default(value: Any) -> Any:
        found = encoders.get(type(value))
        return transcoder._encode_obj(value) if found is None else found(value)  # its error for a type unknown

    dumps, options = orjson.dumps, orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    return lambda value: dumps(value, default=default, option=options)


def _encoding(transcoding: Transcoding) -> Callable[[Any], dict[str, Any]]:
    name, encode = transcoding.name, transcoding.encode
    return lambda value: {"_type_": name, "_data_": encode(value)}


def register_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DecimalAsPlainStr())
    transcoder.register(DateAsISO())
    for cls in VALUE_TYPES:
        transcoder.register(DataclassAsDict(cls))
