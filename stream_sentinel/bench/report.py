"""The benchmark's terminal report: one rich table per mode, the targets, the context."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _num(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}{suffix}"


def print_report(console: Console, document: dict[str, Any]) -> None:
    _context(console, document)
    if "throughput" in document:
        _throughput(console, document["throughput"])
    if "latency" in document:
        _latency(console, document["latency"])
    if "scaling" in document:
        _scaling(console, document["scaling"])
    if document.get("targets"):
        _targets(console, document["targets"])


def _context(console: Console, document: dict[str, Any]) -> None:
    machine, versions = document["machine"], document["versions"]
    settings = document["settings"]
    console.print(
        f"[bold]stream-sentinel bench {document['bench']['mode']}[/] {document['bench']['date']}"
        f" — {machine['cores']} cores, {machine['memory_gb']} GB, load {machine['load_average_1m']}"
        f" — Python {versions['python']}, confluent-kafka {versions['confluent_kafka']} "
        f"(librdkafka {versions['librdkafka']}), Kafka {versions['kafka'] or '?'}, "
        f"Redis {versions['redis'] or '?'} — {document['bench']['stack']} stack, model "
        f"{settings['detector']['model_version']}"
        + ("" if settings["detector"].get("feature_log", True) else ", feature log off"),
        highlight=False,
    )


def _throughput(console: Console, figures: dict[str, Any]) -> None:
    ours, ceiling, naive = figures["ours"], figures["ceiling"], figures["naive"]
    table = Table(
        title=f"throughput: {figures['count']:,} transactions, {figures['users']:,} users, "
        f"{figures['guarantee']}",
        title_justify="left",
    )
    for column in ("", "tx/s", "vs ours", "CPU s / 1k tx", "Kafka CPU s / 1k", "mean batch"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "ours",
        _num(ours["tps"]),
        "1",
        _num(ours["cpu_s_per_1k"], 3),
        _num(ours["kafka_cpu_s_per_1k"], 3),
        _num(ours["batches"]["mean_batch"]),
    )
    table.add_row(
        "ceiling (raw pass-through)",
        _num(ceiling["tps"]),
        f"ours = {_num(figures['ours_vs_ceiling'], 2)} x ceiling",
        _num(ceiling["cpu_s_per_1k"], 3),
        _num(ceiling["kafka_cpu_s_per_1k"], 3),
        _num(ceiling["batches"]["mean_batch"]),
    )
    table.add_row(
        f"naive per-message ({naive['records']:,} records)",
        _num(naive["tps"], 1),
        f"ours = {_num(figures['ours_vs_naive'], 1)} x naive",
        _num(naive["cpu_s_per_1k"], 3),
        _num(naive["kafka_cpu_s_per_1k"], 3),
        "1",
    )
    console.print(table)
    _throughput_notes(console, figures)


def _throughput_notes(console: Console, figures: dict[str, Any]) -> None:
    """What the table leaves out: decisions seen, memory per user, the detector's stages."""
    ours, naive = figures["ours"], figures["naive"]
    memory = ours["memory"]
    console.print(
        f"decisions visible {figures['decisions_visible']:,} (distinct "
        f"{_num(figures['distinct_decisions'])}); Redis {_num(memory['redis_bytes_per_user'])} "
        f"bytes per user (used_memory delta / {memory['users_with_state']:,} users), profile key "
        f"{_num(memory['profile_key_bytes'])} bytes (MEMORY USAGE); naive hash per user "
        f"{_num(naive['memory']['profile_key_bytes'])} bytes",
        highlight=False,
    )
    stages = ours.get("stage_ms_per_1k") or {}
    if stages:
        timed = ", ".join(f"{k} {v:,.1f}" for k, v in stages.items())
        window_ms = 1e6 / ours["tps"] if ours["tps"] else None
        console.print(
            f"detector's own stage timers, ms per 1,000 tx: {timed} (wall time per 1,000 tx "
            f"{_num(window_ms, 1)}; the rest is Kafka consume/produce/commit and the Redis write)",
            highlight=False,
        )


def _latency(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(
        title="latency: input Kafka timestamp -> decision visible to a read_committed reader "
        "(low-latency client profile: linger 1 ms, fetch.min.bytes 1, fetch.wait.max.ms 5)",
        title_justify="left",
    )
    columns = (
        "rate/s",
        "guarantee",
        "achieved/s",
        "measured",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "max lag",
        "detector CPU",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "guarantee" else "right")
    for row in rows:
        table.add_row(
            f"{row['rate']:,}",
            row["guarantee"],
            _num(row["achieved_rate"]),
            f"{row['measured']:,}",
            _num(row["p50_ms"], 1),
            _num(row["p90_ms"], 1),
            _num(row["p99_ms"], 1),
            _num(row["p999_ms"], 1),
            _num(row["max_ms"], 1),
            _num(row["max_lag"]),
            _num(row["detector_cpu_share"] * 100, 0, "%"),
        )
    console.print(table)


def _scaling(console: Console, rows: list[dict[str, Any]]) -> None:
    table = Table(title="scaling", title_justify="left")
    for column in (
        "users",
        "workers",
        "tx/s",
        "CPU s / 1k tx",
        "users with state",
        "Redis bytes / user",
        "profile key bytes",
    ):
        table.add_column(column, justify="right")
    for row in rows:
        if row.get("skipped"):
            table.add_row(f"{row['users']:,}", str(row["workers"]), "skipped", "", "", "", "")
            continue
        table.add_row(
            f"{row['users']:,}",
            str(row["workers"]),
            _num(row["tps"]),
            _num(row["cpu_s_per_1k"], 3),
            f"{row['users_with_state']:,}",
            _num(row["redis_bytes_per_user"]),
            _num(row["profile_key_bytes"]),
        )
    console.print(table)
    for row in rows:
        if row.get("skipped"):
            console.print(f"{row['users']:,} users: {row['skipped']}", highlight=False)
            break


def _targets(console: Console, targets: list[dict[str, Any]]) -> None:
    table = Table(title="targets", title_justify="left")
    table.add_column("target")
    table.add_column("measured", justify="right")
    table.add_column("met")
    marks = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}
    for target in targets:
        table.add_row(target["target"], _num(target["measured"], 2), marks[target["met"]])
    console.print(table)
