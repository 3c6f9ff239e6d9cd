"""The docs site's generated and shipped references agree with the code: the
configuration table covers every setting with its real default, and the Grafana dashboard
queries only metrics and labels that rivetqd exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from rivetq.server.metrics import Metrics
from rivetq.settings import describe_fields
from rivetq.settings_reference import DESCRIPTIONS, markdown_table

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "rivetq-dashboard.json"
_SERIES_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def test_the_configuration_table_has_a_row_per_setting_with_its_default() -> None:
    table = markdown_table()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == [key for key, *_ in describe_fields()]
    assert "| `wal.fsync` | `RIVETQ_WAL_FSYNC` | boolean | `true` |" in table
    assert "| `queue.dedup_window` | `RIVETQ_QUEUE_DEDUP_WINDOW` | duration | `1d` |" in table
    assert "| `limits.max_payload_bytes` | `RIVETQ_LIMITS_MAX_PAYLOAD_BYTES` | size | `1048576` (1 MiB) |" in table
    assert "| `wal.space_reserve` | `RIVETQ_WAL_SPACE_RESERVE` | size | `0` |" in table  # 0 means two segments
    assert "| `storage.backend` | `RIVETQ_STORAGE_BACKEND` | `local` / `memory` / `postgres` | `local` |" in table


def test_a_setting_without_a_description_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(DESCRIPTIONS, "wal.fsync")
    with pytest.raises(ValueError, match=r"disagree on: wal\.fsync"):
        markdown_table()


def _exported_series() -> dict[str, set[str]]:
    """Every series name rivetqd exports, with the labels it carries (Prometheus adds
    ``instance`` and ``job``, histograms ``le``)."""
    metrics = Metrics()
    # Counters and histograms know their label names; the scrape-time gauges' families do.
    wrappers = [value for value in vars(metrics).values() if isinstance(value, MetricWrapperBase)]
    declared = {wrapper._name: wrapper._labelnames for wrapper in wrappers}
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        labels = {*declared.get(family.name, getattr(family, "_labelnames", ())), "instance", "job", "le"}
        for suffix in _SERIES_SUFFIXES[family.type]:
            series[family.name + suffix] = labels
    return series


def test_the_grafana_dashboard_uses_only_exported_metrics_and_labels() -> None:
    exported = _exported_series()
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    expressions.append(dashboard["templating"]["list"][1]["query"])
    used = {name for expression in expressions for name in re.findall(r"rivetq_[a-z_]+", expression)}
    assert used <= exported.keys(), used - exported.keys()
    assert {"rivetq_jobs_enqueued_total", "rivetq_jobs_ready", "rivetq_http_request_duration_seconds_bucket"} <= used
    for expression in expressions:
        for name in re.findall(r"rivetq_[a-z_]+", expression):
            grouped = re.findall(r"by \(([^)]*)\)", expression)
            filtered = re.findall(rf"{name}\{{(\w+)", expression)
            labels = {label.strip() for group in grouped for label in group.split(",")} | set(filtered)
            assert labels <= exported[name], (expression, labels - exported[name])
