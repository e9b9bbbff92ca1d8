"""Library chatter stays out of the logs; floods become a few lines and a count."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from bot.app.quiet_logs import (
    BOLT_TOKEN_UNUSED,
    FLOODS,
    QUIET,
    SILENT,
    Throttle,
    quiet_libraries,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    quiet_libraries()
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)
    for name in (*QUIET, *SILENT, *FLOODS, "slack_bolt.RequestVerification", "slack_bolt.App"):
        logger = logging.getLogger(name)
        logger.filters.clear()
        logger.setLevel(logging.NOTSET)


def test_a_flood_passes_its_burst_then_one_line_counts_what_was_left_out() -> None:
    clock = Clock()
    throttle = Throttle(burst=2, window_s=60, clock=clock)
    logger = logging.getLogger("test.flood")
    logger.propagate = False
    handler = Lines()
    logger.addHandler(handler)
    logger.addFilter(throttle)
    for depth in range(50):
        logger.warning("Task queue depth is %d", depth)
    logger.warning("another message")
    clock.now = 61
    logger.warning("Task queue depth is %d", 99)
    assert handler.lines == [
        "test.flood: Task queue depth is 0",
        "test.flood: Task queue depth is 1",
        "test.flood: another message",
        "test.flood: Task queue depth is 99 (and 48 more like it left out)",
    ]


def test_httpx_and_apscheduler_info_lines_are_gone_warnings_stay(lines: Lines) -> None:
    logging.getLogger("httpx").info('HTTP Request: GET http://prom/api/v1/query "200 OK"')
    logging.getLogger("apscheduler.executors.default").info('Running job "cycle"')
    logging.getLogger("apscheduler.executors.default").warning('Run time of job "x" was missed')
    logging.getLogger("meshbot.watch").info("this replica now runs the watchers")
    assert lines.lines == [
        'apscheduler.executors.default: Run time of job "x" was missed',
        "meshbot.watch: this replica now runs the watchers",
    ]


def test_waitress_queue_warnings_of_a_burst_become_one_line(lines: Lines) -> None:
    for depth in range(200):
        logging.getLogger("waitress.queue").warning("Task queue depth is %d", depth)
    assert lines.lines == ["waitress.queue: Task queue depth is 0"]


def test_bolt_never_logs_a_refused_body_nor_the_unused_token_warning(lines: Lines) -> None:
    logging.getLogger("slack_bolt.RequestVerification").info(
        "Invalid request signature detected (signature: x, timestamp: 1, body: attacker text)"
    )
    logging.getLogger("slack_bolt.App").warning(BOLT_TOKEN_UNUSED)
    logging.getLogger("slack_bolt.App").warning("Unhandled request")
    assert lines.lines == ["slack_bolt.App: Unhandled request"]
