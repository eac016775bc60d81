"""One `bench` invocation: the stack it runs on, the model it scores with, and where it reports.

By default the benchmark runs against the configured stack (SENTINEL_KAFKA_BOOTSTRAP,
SENTINEL_REDIS_URL, SENTINEL_REGISTRY_URL) and stops at once with a message saying to run
`stream-sentinel infra up` when something there does not answer. With ``own_stack`` it starts a
private stack on free loopback ports instead (Redis with ``redis_maxmemory``, 4gb by default, so
the 1M-user runs fit), and stops and deletes it at the end. Either way it trains a model on
generated history first (fixed seed, about five seconds), into a temporary model store. The
detectors write the feature log unless ``options.feature_log`` is off (to measure its cost).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stream_sentinel.bench.data import BENCH_ALIAS, train_model
from stream_sentinel.bench.machine import Servers
from stream_sentinel.bench.options import BenchOptions
from stream_sentinel.bench.workspace import Workspace, require_stack
from stream_sentinel.config import Settings

Progress = Callable[[str], None]


@dataclass
class Session:
    settings: Settings  # the stack's settings, scoring with the benchmark's model
    options: BenchOptions
    servers: Servers
    model_version: str
    progress: Progress
    stack: str  # "configured" or "own"

    def workspace(self, mode: str, **detector: Any) -> Workspace:
        return Workspace.create(self.settings, mode, **detector)


@contextmanager
def open_session(
    settings: Settings, options: BenchOptions, progress: Progress
) -> Iterator[Session]:
    with ExitStack() as resources:
        if options.own_stack:
            settings = resources.enter_context(own_stack(settings, options, progress))
        require_stack(settings)
        progress("training the benchmark's model on generated history ...")
        version = train_model(settings)
        detector: dict[str, object] = {"model_alias": BENCH_ALIAS}
        if options.feature_log is not None:
            detector["feature_log"] = options.feature_log
        settings = settings.with_overrides(detector=detector)
        stack = "own" if options.own_stack else "configured"
        yield Session(settings, options, Servers.find(settings), version, progress, stack)


@contextmanager
def own_stack(settings: Settings, options: BenchOptions, progress: Progress) -> Iterator[Settings]:
    """A private Kafka + Redis + registry on free ports, stopped and deleted afterwards."""
    from stream_sentinel.infra.process import free_ports
    from stream_sentinel.infra.stack import Stack

    state_dir = Path(tempfile.mkdtemp(prefix="ss-bench-stack-"))
    kafka, controller, redis, registry = free_ports(4)
    private = settings.with_overrides(
        kafka={"bootstrap": f"127.0.0.1:{kafka}"},
        redis={"url": f"redis://127.0.0.1:{redis}", "maxmemory": options.redis_maxmemory},
        registry={"url": f"http://127.0.0.1:{registry}"},
        infra={"state_dir": state_dir, "controller_port": controller},
    )
    stack = Stack(private)
    try:
        stack.up(progress=progress)
        yield private
    finally:
        progress("stopping the benchmark's own stack ...")
        stack.down()
        shutil.rmtree(state_dir, ignore_errors=True)
