"""MaskingPolicy: the session's vault is read only when the text has something to mask,
and placeholders stay consistent across calls through the stored vault."""

from shared.masking.policy import MaskingPolicy

POLICY = MaskingPolicy(enabled=True, secret=b"test-secret")


def test_text_without_personal_data_never_reads_the_session() -> None:
    reads = []
    masked, findings = POLICY.apply_loading(
        "I still can't log in, it says my password is wrong.", lambda: reads.append(1) or {}
    )
    assert (masked, findings, reads) == ("I still can't log in, it says my password is wrong.", [], [])


def test_text_with_personal_data_reads_the_session_once_and_updates_its_vault() -> None:
    session_data: dict = {}
    reads = []

    def load() -> dict:
        reads.append(1)
        return session_data

    masked, findings = POLICY.apply_loading("Write to jane.roe@example.com please", load)
    assert masked == "Write to [EMAIL_1] please"
    assert [f["type"] for f in findings] == ["EMAIL"] and reads == [1]
    assert "jane.roe@example.com" not in str(session_data)
    # The stored vault gives the same value the same placeholder next time.
    again, _ = POLICY.apply("or jane.roe@example.com, and bob@example.com", session_data)
    assert again == "or [EMAIL_1], and [EMAIL_2]"


def test_masking_off_returns_the_text_untouched() -> None:
    off = MaskingPolicy(enabled=False, secret=b"k")
    assert off.apply_loading("jane.roe@example.com", dict) == ("jane.roe@example.com", [])


def test_a_search_run_before_the_transaction_gives_the_same_result() -> None:
    text = "Call me on +1 415 555 0100 or write to jane.roe@example.com"
    found = POLICY.find(text)
    assert {c.type for c in found} == {"PHONE", "EMAIL"}
    assert POLICY.apply(text, {}, found=found) == POLICY.apply(text, {})
    assert POLICY.find(text) and not MaskingPolicy(enabled=False, secret=b"k").find(text)
