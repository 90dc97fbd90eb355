import logging

from shared.lib.outages import Backoff, Outage


def test_an_outage_logs_once_when_it_starts_reminds_rarely_and_logs_once_when_it_ends(caplog):
    log = logging.getLogger("test.outages")
    outage = Outage(log, "the database", remind_seconds=3600)
    with caplog.at_level(logging.INFO, logger="test.outages"):
        for _ in range(10_000):
            outage.failed(ConnectionRefusedError("connection refused\nsecond line"))
        assert outage.down
        outage.succeeded()
        outage.succeeded()
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "the database unreachable: connection refused"
    assert lines[1].startswith("the database reachable again after") and "10000 failed calls" in lines[1]
    assert len(lines) == 2
    assert not outage.down


def test_a_long_outage_is_reminded_of_with_the_count_of_failed_calls(caplog):
    outage = Outage(logging.getLogger("test.outages"), "the queue", remind_seconds=0)
    with caplog.at_level(logging.INFO, logger="test.outages"):
        outage.failed(TimeoutError())
        outage.failed(TimeoutError())
    assert [record.getMessage() for record in caplog.records][1].startswith("the queue still unreachable after")


def test_backoff_grows_with_jitter_to_its_ceiling_and_starts_again_after_reset():
    backoff = Backoff(first=0.2, most=5.0)
    delays = [backoff.delay() for _ in range(10)]
    assert 0.1 <= delays[0] <= 0.2
    assert all(2.5 <= delay <= 5.0 for delay in delays[6:])
    backoff.reset()
    assert backoff.delay() <= 0.2
