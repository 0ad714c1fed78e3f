"""Resident feedback (开门搞旧改) and the Chinese interface (--lang zh) through the CLI."""

from __future__ import annotations

from cli_support import Renovation, event_count


def test_feedback_prints_the_ticket_id_then_resolves_with_a_note(run: Renovation, started: str) -> None:
    received = run.ok("feedback", "JM", "--channel", "hotline", "--text", "楼道施工噪音太早")
    assert received.output.strip() == "Feedback ticket T1 at JM."
    assert run.json("compound", "show", "JM")["tickets_open"] == 1

    resolved = run.ok("feedback", "resolve", "JM", "T1", "--note", "已调整施工时间为8点后")

    assert resolved.output.strip() == "Ticket T1 at JM resolved."
    assert run.json("compound", "show", "JM")["tickets_open"] == 0


def test_feedback_with_json_names_the_ticket_id(run: Renovation, started: str) -> None:
    received = run.json("feedback", "JM", "--channel", "visit", "--text", "希望加装电梯",
                        "--at", "2021-03-05T09:00")
    assert received == {"code": "JM", "ticket_id": "T1", "channel": "visit", "at": "2021-03-05T09:00:00+08:00"}
    assert run.json("feedback", "JM", "--channel", "form", "--text", "路灯不亮")["ticket_id"] == "T2"

    resolved = run.json("feedback", "resolve", "JM", "T1", "--note", "已纳入二期", "--at", "2021-03-06T10:00")

    assert resolved["ticket_id"] == "T1"
    assert resolved["note"] == "已纳入二期"


def test_a_ticket_is_resolved_once(run: Renovation, started: str) -> None:
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "噪音")
    run.ok("feedback", "resolve", "JM", "T1", "--note", "已处理")
    before = event_count(run.db)

    result = run("feedback", "resolve", "JM", "T1", "--note", "再次处理")

    assert result.exit_code == 1
    assert run.lines(result) == ["Error: ticket T1 is already resolved"]
    assert event_count(run.db) == before


def test_a_refusal_is_said_in_chinese_with_lang_zh(run: Renovation, started: str) -> None:
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "80")
    before = event_count(run.db)

    result = run("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "30", lang="zh")

    assert result.exit_code == 1
    assert run.lines(result) == [
        "错误: 清单项 A1 计量 30 将超过合同数量 100：已累计 80，超出 10（经批准的变更可调增）"
    ]
    assert event_count(run.db) == before


def test_unknown_compound_and_illegal_structures_in_chinese(run: Renovation, registered: str) -> None:
    unknown = run("compound", "show", "XX", lang="zh")
    assert unknown.exit_code == 1
    assert run.lines(unknown) == ["错误: 没有代码为 XX 的小区"]

    run.ok("demolition", "record", "JM", "--count", "2")
    standing = run("construction", "start", "JM", "--date", "2021-03-01", lang="zh")
    assert standing.exit_code == 1
    assert run.lines(standing) == ["错误: JM 不能开工：仍有 2 处违建未拆除（改旧先拆违）"]


def test_what_was_recorded_is_said_in_chinese_with_lang_zh(run: Renovation, started: str) -> None:
    result = run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60", lang="zh")

    assert result.output.strip() == "计量 M1：A1 2021-03 数量 60，产值 7407.00 元。"
