import time

from channels.telegram import UpdateLedger, split_message


def test_long_replies_are_split_under_the_limit_at_line_breaks():
    text = "\n".join(f"第{i}行：" + "很长的说明" * 40 for i in range(40))
    pieces = split_message(text)
    assert len(pieces) > 1 and all(len(p) <= 4096 for p in pieces)
    assert "".join(pieces).replace("\n", "") == text.replace("\n", "")
    assert all(p.startswith("第") for p in pieces)  # cut between lines, not inside one


def test_a_text_without_breaks_is_cut_hard():
    pieces = split_message("a" * 9000)
    assert [len(p) for p in pieces] == [4096, 4096, 808]


def test_short_text_is_one_piece():
    assert split_message("  你好  ") == ["你好"]


def test_the_ledger_survives_a_reopen(tmp_path):
    ledger = UpdateLedger(tmp_path / "t.db", lease_seconds=0.5)
    assert ledger.begin(7) is True
    ledger.finish(7)
    assert ledger.begin(7) is False
    assert ledger.begin(8) is True  # interrupted: still "processing"
    reopened = UpdateLedger(tmp_path / "t.db")
    assert reopened.begin(7) is False
    assert reopened.begin(8) is False  # within its lease: a slow turn is not run twice
    time.sleep(0.6)
    assert reopened.begin(8) is True  # past the lease (a crash mid-update): processed again on redelivery
