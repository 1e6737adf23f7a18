"""Prometheus metrics: counters kept by the web processes, gauges read from the database.

Multiprocess mode (gunicorn): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder writable by
the node before it starts (``deploy/gunicorn.conf.py`` empties it and marks dead workers); the
counters of every web worker are then summed at scrape time, whichever worker answers. Without
the variable (``coopfed run``, tests) the process's own registry is used.

The counters live at module level (one set per process, as prometheus-client wants): two nodes
in one process (tests, the demo) share them; tests compare deltas.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from node.ops import figures
from node.state import NodeState

INBOX = Counter(
    "coopfed_inbox_requests",
    "POSTs to our inboxes by outcome (accepted/refused) and reason",
    ["outcome", "reason"],
)
HTTP = Counter(
    "coopfed_http_responses", "Responses by status class (2xx, 3xx, 4xx, 5xx)", ["status"]
)
MATCH = Histogram(
    "coopfed_match_seconds",
    "Time to compute matches (call: collaborators for a call; member: suggestions)",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
for _kind in ("call", "member"):  # exported at zero before the first match
    MATCH.labels(_kind)

# Inbox answers by status: the reason label stays a small fixed set.
REFUSAL_REASONS = {
    400: "invalid",
    401: "signature",
    403: "forbidden",
    404: "no_such_inbox",
    405: "method",
    410: "gone",
    413: "too_large",
    415: "media_type",
    429: "rate_limited",
}
ACCEPT_REASONS = {"accepted": "new", "already received": "duplicate"}

# Gauge name -> (help, figure keys by label value or a single key).
_GAUGES: dict[str, tuple[str, str, dict[str, str]]] = {
    "coopfed_deliveries": (
        "Deliveries by state",
        "state",
        {s: f"deliveries_{s}" for s in figures.DELIVERY_STATES},
    ),
    "coopfed_hosts": (
        "Remote hosts by delivery health",
        "state",
        {s: f"hosts_{s}" for s in figures.HOST_STATES},
    ),
    "coopfed_inbox_items": (
        "Received activities by processing state",
        "state",
        {s: f"inbox_{s}" for s in figures.INBOX_STATES},
    ),
    "coopfed_emails": (
        "Emails by state (pending = queued)",
        "state",
        {s: f"emails_{s}" for s in figures.MAIL_STATES},
    ),
}
_SINGLE: dict[str, tuple[str, str]] = {
    "coopfed_delivery_queue_depth": ("Deliveries waiting to be sent", "delivery_queue_depth"),
    "coopfed_delivery_queue_oldest_seconds": (
        "Age of the oldest delivery waiting to be sent",
        "delivery_oldest_seconds",
    ),
    "coopfed_worker_lag_seconds": (
        "Age of the oldest received activity not processed yet",
        "worker_lag_seconds",
    ),
    "coopfed_emails_queued": ("Emails waiting to be sent", "emails_queued"),
}


def inbox_outcome(status: int, message: str) -> None:
    """Count one inbox answer (``message`` as :func:`federation.inbox.receive` returned it)."""
    if status == 202:
        INBOX.labels("accepted", ACCEPT_REASONS.get(message, "noop")).inc()
    else:
        INBOX.labels("refused", REFUSAL_REASONS.get(status, f"status_{status}")).inc()


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time (shared by every process)."""

    def __init__(self, state: NodeState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        with self.state.session() as session:
            values = figures.collect(session)
        for name, (help_text, label, keys) in _GAUGES.items():
            family = GaugeMetricFamily(name, help_text, labels=[label])
            for value, key in keys.items():
                family.add_metric([value], values.get(key, 0.0))
            yield family
        for name, (help_text, key) in _SINGLE.items():
            yield GaugeMetricFamily(name, help_text, value=values[key])


def render(state: NodeState) -> tuple[bytes, str]:
    """The exposition text: this process's (or all web processes') counters + the gauges."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ProcessCollectors())
    registry.register(DatabaseCollector(state))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessCollectors(Collector):
    """The default registry (our counters, the process and platform collectors) re-exposed."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def parse_allow(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``"127.0.0.1/32, ::1"`` -> networks (a bare address is a /32 or /128)."""
    return [ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part]


def allowed(client: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    return any(address in net for net in networks)


def timed(kind: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` wrapped to observe its duration in :data:`MATCH` under ``kind``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with MATCH.labels(kind).time():
            return method(*args, **kwargs)

    wrapper.__doc__ = method.__doc__
    return wrapper
