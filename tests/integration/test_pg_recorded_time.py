"""The append function's reading of a stored state's recording time (PostgreSQL): the quick read of a
state that begins as the application writes one gives what the pattern's search gives, for every state."""

from __future__ import annotations

from renovation.store.postgres import STATE_START, recorded_time_sql
from tests.backends import pg_url, require_pg

#: The search the quick read stands in for (``recorded_time_sql`` without its quick read).
PATTERN = ('"timestamp":\\s*\\{\\s*"_type_":\\s*"datetime_iso",\\s*"_data_":\\s*"'
           '(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+([+-]\\d\\d:\\d\\d)?)"\\s*\\}')

TIME = "2021-03-02T09:00:00+08:00"
STATES = [
    STATE_START + TIME + '"},"command_id":"ab"}',  # as the application writes it
    STATE_START + "2021-03-02T09:00:00.250000+08:00" + '"}}',
    STATE_START + "2021-03-02T09:00:00" + '"}}',  # no offset: read in the session's zone, both ways
    STATE_START + TIME + '" }}',  # spaced: the search
    STATE_START + TIME + '"},"timestamp":{"_type_":"datetime_iso","_data_":"2020-01-01T00:00:00+08:00"}}',
    STATE_START + "2021-03-02T09:00:00Z" + '"},"x":{"timestamp":{"_type_":"datetime_iso","_data_":"' + TIME + '"}}}',
    STATE_START + "2021-03-02 09:00:00+08:00" + '"}}',  # not a time the pattern takes
    STATE_START + "２０２１-03-02T09:00:00+08:00" + '"}}',  # other digits
    STATE_START + TIME + '\\"}}',
    STATE_START + TIME + '","x":1}}',  # the time's object holds more: the pattern does not take it
    STATE_START + TIME,  # cut short
    STATE_START + "2021-03-02T" + "0" * 60 + '"}}',  # longer than the quick read looks
    '{"timestamp": {"_type_": "datetime_iso", "_data_": "' + TIME + '"}}',
    '{"other":1,"timestamp":{"_type_":"datetime_iso","_data_":"' + TIME + '"}}',
    '{"timestamp":{"_data_":"' + TIME + '","_type_":"datetime_iso"}}',
    '{"command_id":"ab"}',
    "",
]


def read(connection: object, expression: str, state: str) -> object:
    """The expression's value for the state, or the kind of error it raises."""
    import psycopg

    assert isinstance(connection, psycopg.Connection)
    try:
        with connection.transaction():
            return connection.execute(f"SELECT {expression} FROM (SELECT %s::bytea AS s) AS u",
                                      (state.encode(),)).fetchone()
    except psycopg.Error as error:
        return type(error).__name__


def test_the_quick_read_gives_what_the_search_gives() -> None:
    require_pg()
    import psycopg

    with psycopg.connect(pg_url(), autocommit=True) as connection:
        connection.execute("SET TIME ZONE 'Asia/Shanghai'")
        quick = [read(connection, recorded_time_sql("s"), state) for state in STATES]
        searched = [read(connection, f"(substring(encode(s, 'escape') from '{PATTERN}'))::timestamptz", state)
                    for state in STATES]
    assert quick == searched
    assert quick[0] != (None,) and quick[3] != (None,) and quick[-1] == (None,)
    assert "InvalidDatetimeFormat" in quick  # a time the pattern takes but no time: refused either way
