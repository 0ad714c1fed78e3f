# ruff: noqa: F811  (pytest fixtures imported from tests.integration.test_pg_roles)
"""Progress payments on PostgreSQL with per-person logins (after `db roles --apply`), tried as an attacker
with a login would: the append function refuses a payment event of the wrong role, written directly; a
contractor's login learns nothing of the other compounds' payments."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from psycopg import sql

from tests.integration.test_pg_roles import REFUSED, Store, applied, certify_both, store  # noqa: F401  (fixtures)


def _append(applied: Store, user: str, topic: str, state: dict) -> None:
    with applied.connect() as connection:
        row = connection.execute(sql.SQL("SELECT originator_id, max(originator_version) FROM {} WHERE topic LIKE %s "
                                         "GROUP BY originator_id LIMIT 1").format(applied.table("renovation_events")),
                                 ("%Registered",)).fetchone()
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    with applied.connect(user) as connection:
        connection.execute(call, ([row[0]], [row[1] + 1], [f"renovation.domain.compound:CompoundProject.{topic}"],
                                  [json.dumps(state).encode()]))


@pytest.mark.parametrize(("user", "topic"), [("李经理", "PaymentCertified"), ("张工", "PaymentCertified"),
                                             ("周科长", "PaymentCertified"), ("李经理", "PaymentRecorded"),
                                             ("张工", "PaymentRecorded"), ("孙工", "PaymentRecorded"),
                                             ("李经理", "RetentionReleased"), ("孙工", "RetentionReleased")])
def test_the_append_function_refuses_a_payment_event_of_the_wrong_role(applied: Store, user: str, topic: str) -> None:
    state = {"timestamp": {"_type_": "datetime_iso", "_data_": datetime.now(UTC).isoformat()}, "user": user,
             "command_id": uuid.uuid4().hex, "certificate_id": "C1"}
    before = applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events")
    with pytest.raises(REFUSED, match=f"may not record {topic}|permission denied for function renovation_append"):
        _append(applied, user, topic, state)
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == before


def test_a_contractor_login_learns_nothing_of_the_other_compounds_payments(applied: Store, tmp_path: Path) -> None:
    certify_both(applied, tmp_path)
    applied.project()
    on = applied.rows("孙工", "SELECT issued_on FROM {} WHERE code = 'LY'", "payments_certificates")[0][0]
    paid = applied.cli("payment", "record", "LY", "C1", "--amount", "100", "--date", on, user="周科长",
                       db=applied.url_of("周科长"))
    assert paid.exit_code == 0, paid.output
    applied.project()
    for table in ("payments_certificates", "payments_cited", "payments_payments", "payments_retention"):
        assert applied.rows("李经理", "SELECT count(*) FROM {} WHERE code = 'LY'", table) == [(0,)], table
    url = applied.url_of("李经理")
    own = applied.cli("payment", "certificate", "JM", "C1", "--html", str(tmp_path / "jm.html"), user="李经理", db=url)
    assert own.exit_code == 0, own.output
    other = applied.cli("payment", "certificate", "LY", "C1", "--html", str(tmp_path / "ly.html"), user="李经理",
                        db=url)
    assert (other.exit_code, other.output.strip()) == (1, "Error: no compound with code LY")
    listed = applied.cli("payment", "list", "--json", user="李经理", db=url)
    assert [row["code"] for row in json.loads(listed.stdout)] == ["JM"]
    as_of = applied.cli("payment", "list", "--as-of", "2999-01-01", "--json", user="李经理", db=url)
    # as of a moment the boards are replayed from the log, which a contractor's login may not read
    assert (as_of.exit_code, "may not read the event log" in as_of.output) == (1, True), as_of.output
