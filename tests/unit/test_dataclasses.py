"""The compound's events and the domain's value objects behave as frozen dataclasses made by the standard
library, though their classes compile no ``__eq__``, ``__hash__`` and ``__repr__`` of their own
(``values.FieldsCompared`` serves them all): equal when every compared field is, hashed and shown as a stock
frozen dataclass of the same fields, and frozen."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import pytest

from renovation.domain.compound import CompoundProject
from renovation.domain.values import VALUE_TYPES, FieldsCompared
from tests.unit.test_replay import EVENT_TYPES, every_kind_of_event


def _stock(event: object) -> object:
    """``event`` (or a value) as a frozen dataclass of its class's name and fields, made by the standard library."""
    cls = type(event)
    made = dataclasses.make_dataclass(
        cls.__name__,
        [(each.name, each.type, dataclasses.field(repr=each.repr, compare=each.compare, hash=each.hash))
         for each in dataclasses.fields(cls)],
        frozen=True, kw_only=True,
    )
    made.__qualname__ = cls.__qualname__
    return made(**{each.name: getattr(event, each.name) for each in dataclasses.fields(cls)})


def _hashed(value: object) -> object:
    try:
        return hash(value)
    except TypeError as error:  # a field of a list: unhashable both ways
        return str(error)


def _values(found: object) -> list[object]:
    """The value objects in ``found``, however deep in its fields, lists, tuples and dicts."""
    if isinstance(found, VALUE_TYPES):
        return [found, *(value for each in dataclasses.fields(found) for value in _values(getattr(found, each.name)))]
    if isinstance(found, dict):
        return [value for each in found.values() for value in _values(each)]
    if isinstance(found, (list, tuple)):
        return [value for each in found for value in _values(each)]
    return []


@pytest.fixture
def history(register, boq_items, ctx, at) -> list[object]:
    """An event of every kind, then every value object the compound holds after them."""
    project = register()
    events = every_kind_of_event(project, ctx, at, boq_items)
    values = [value for each in vars(project).values() for value in _values(each)]
    assert {type(value) for value in values} == set(VALUE_TYPES)
    return [*events, *values]


def test_no_event_or_value_class_compiles_the_methods_a_dataclass_would():
    for cls in (*EVENT_TYPES, *VALUE_TYPES):
        assert not {"__eq__", "__hash__", "__repr__"} & set(vars(cls)), cls.__name__
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls.__name__
    for cls in EVENT_TYPES:
        assert cls.__signature__ == inspect.signature(cls.__init__), cls.__name__


def test_every_event_and_value_is_shown_and_hashed_as_a_stock_frozen_dataclass(history):
    assert {type(event) for event in history} == EVENT_TYPES | set(VALUE_TYPES)
    for event in history:
        stock = _stock(event)
        assert repr(event) == repr(stock)
        assert _hashed(event) == _hashed(stock), type(event).__name__


def test_events_and_values_are_equal_when_every_compared_field_is(history):
    other = object()
    for event in history:
        assert event == copy.copy(event)
        assert event.__eq__(_stock(event)) is NotImplemented  # another class: never equal
        for each in dataclasses.fields(event):
            changed = copy.copy(event)
            object.__setattr__(changed, each.name, other)
            assert (event == changed) is (not each.compare), (type(event).__name__, each.name)
            assert (event != changed) is each.compare


def test_events_of_two_kinds_are_never_equal(history):
    started = next(event for event in history if type(event) is CompoundProject.ConstructionStarted)
    completed = CompoundProject.ConstructionCompleted(**{each.name: getattr(started, each.name)
                                                         for each in dataclasses.fields(started)})
    assert started != completed and completed != started


def test_every_field_of_every_event_and_value_is_frozen(history):
    for event in history:
        for each in dataclasses.fields(event):
            with pytest.raises(dataclasses.FrozenInstanceError):
                setattr(event, each.name, None)
            with pytest.raises(dataclasses.FrozenInstanceError):
                delattr(event, each.name)


def test_an_instances_own_keys_never_stand_for_its_classs_fields(history):
    """An event's ``__dict__`` is its stored JSON, which a hand in the database could give any key: what the
    three methods read comes from the class."""
    for event in history:
        forged = copy.copy(event)
        forged.__dict__.update({"__dataclass_fields__": {}, "_compared": "x", "__class__": int, "_getters": None})
        assert forged == event and event == forged
        assert repr(forged) == repr(event) == repr(_stock(event))
        assert _hashed(forged) == _hashed(event)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class _Probe(FieldsCompared):
    shown: int
    hidden: int = dataclasses.field(default=0, repr=False)
    hashed_only: int = dataclasses.field(default=0, compare=False, hash=True)
    compared_only: int = dataclasses.field(default=0, hash=False)
    ignored: int = dataclasses.field(default=0, compare=False)


@dataclasses.dataclass(frozen=True)
class _StockProbe:
    shown: int
    hidden: int = dataclasses.field(default=0, repr=False)
    hashed_only: int = dataclasses.field(default=0, compare=False, hash=True)
    compared_only: int = dataclasses.field(default=0, hash=False)
    ignored: int = dataclasses.field(default=0, compare=False)


@pytest.mark.parametrize("values", [(1, 2, 3, 4, 5), (1, 2, 3, 9, 9), (1, 2, 9, 4, 9), (1, 9, 3, 4, 5),
                                    (9, 2, 3, 4, 5)])
def test_each_fields_repr_compare_and_hash_are_honoured_as_a_dataclass_honours_them(values):
    ours, stock = _Probe(1, 2, 3, 4, 5), _StockProbe(1, 2, 3, 4, 5)
    other, stock_other = _Probe(*values), _StockProbe(*values)

    assert (ours == other) is (stock == stock_other)
    assert (hash(ours) == hash(other)) is (hash(stock) == hash(stock_other))
    assert hash(ours) == hash(stock)
    assert repr(other).replace("_Probe", "_StockProbe") == repr(stock_other)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class _One(FieldsCompared):
    only: int
    not_compared: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class _StockOne:
    only: int
    not_compared: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class _NoneCompared(FieldsCompared):
    ignored: int = dataclasses.field(default=0, compare=False, repr=False)


@dataclasses.dataclass(frozen=True)
class _StockNoneCompared:
    ignored: int = dataclasses.field(default=0, compare=False, repr=False)


def test_a_class_of_one_field_or_none_compared_is_hashed_and_shown_as_a_dataclass_is():
    assert hash(_One(7, 1)) == hash(_StockOne(7, 2)) and _One(7, 1) == _One(7, 2) != _One(8, 1)
    assert repr(_One(7)) == "_One(only=7)"
    assert hash(_NoneCompared(1)) == hash(_StockNoneCompared(2)) and _NoneCompared(1) == _NoneCompared(2)
    assert repr(_NoneCompared(1)) == "_NoneCompared()" and repr(_StockNoneCompared(1)) == "_StockNoneCompared()"
