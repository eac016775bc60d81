"""The console in a real browser: Playwright driving Debian's Chromium against a console that
`stream-sentinel console` serves on a real Kafka + Redis + registry stack.

Screenshots of every page are saved under the session's tmp dir (``console-screenshots``).
"""

from __future__ import annotations

import gc
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from stream_sentinel.clients.backends import RealClients
from stream_sentinel.clock import SYSTEM_CLOCK
from stream_sentinel.config import Settings
from stream_sentinel.domain import Feedback, FeedbackSource, Label
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.learning.versions import FeatureSet, ModelDraft, TrainingWindow
from stream_sentinel.transport.base import TopicPartition
from stream_sentinel.transport.topics import Topics
from stream_sentinel.wire import records
from stream_sentinel.wire.serde import Serde
from tests.console_support import PASSWORD, Seeded
from tests.e2e.console_stack import (
    SENTINEL,
    chromium_path,
    seed_stack,
    served_console,
    users_file,
    wait_for,
)
from tests.e2e.drift_rows import DRIFT_ENV, produce_feature_log
from tests.integration.stacks import cli_env, isolated_settings, running_stack
from tests.unit.test_console_experiments import running_split

PAGES = {
    "overview": "/",
    "kafka": "/kafka",
    "topic": "/kafka/topics/transactions",
    "schemas": "/schemas",
    "subject": "/schemas/transactions-value",
    "redis": "/redis",
    "profile": "/redis/key?ns=profiles&key=user:u-crit",
    "alerts": "/alerts",
    "cases": "/cases",
    "case": "/cases/al-crit",
    "trace": "/trace?transaction_id=tx-crit&user_id=u-crit",
    "audit": "/audit",
    "models": "/models",
    "group": "/kafka/groups/fraud-detection-group",
    "experiments": "/experiments",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    settings = isolated_settings(tmp_path_factory.mktemp("console-stack"))
    with running_stack(settings):
        yield settings
        gc.collect()  # Kafka clients left for the collector go while the broker is up


@pytest.fixture(scope="module")
def seeded(stack: Settings) -> Seeded:
    return seed_stack(stack)


@pytest.fixture(scope="module")
def console_url(
    stack: Settings, seeded: Seeded, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    home = tmp_path_factory.mktemp("console")
    with served_console(stack, users_file(home), home / "console.log") as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console-screenshots")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def _page(browser: Browser, console_url: str, user: str) -> Page:
    page = browser.new_context(
        base_url=console_url, viewport={"width": 1400, "height": 900}
    ).new_page()
    page.goto("/kafka")
    expect(page).to_have_url(re.compile(r"/login\?next=/kafka$"))
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page).to_have_url(f"{console_url}/kafka")
    return page


def test_every_page_renders_for_a_signed_in_user(
    browser: Browser, console_url: str, shots: Path
) -> None:
    page = _page(browser, console_url, "vera")
    expect(page.locator("#user")).to_have_text("vera (viewer)")
    for name, path in PAGES.items():
        reply = page.goto(path)
        assert reply is not None and reply.status == 200, path
        expect(page.locator("h1")).to_be_visible()
        page.screenshot(path=str(shots / f"console-{name}.png"), full_page=True)
    page.context.close()


def test_a_topic_shows_a_decoded_transaction_and_its_raw_bytes(
    browser: Browser, console_url: str, shots: Path
) -> None:
    page = _page(browser, console_url, "vera")
    page.goto("/kafka")
    page.click("text=transactions")
    expect(page.locator("h1")).to_have_text("Topic transactions")
    page.fill("input[name=key]", "u-crit")
    page.click("text=Browse")
    record = page.locator(".record").first
    expect(record.locator("pre.decoded")).to_contain_text('"transaction_id": "tx-crit"')
    expect(record.locator("pre.decoded")).to_contain_text('"merchant_category": "electronics"')
    record.locator("details.raw > summary").click()
    expect(record.locator("details.raw pre")).to_contain_text("00 00 00 00")
    page.screenshot(path=str(shots / "console-topic-decoded.png"), full_page=True)
    page.context.close()


def test_an_alert_leads_to_its_case_and_its_trace(
    browser: Browser, console_url: str, shots: Path
) -> None:
    page = _page(browser, console_url, "vera")
    page.goto("/alerts")
    page.click("a[href='/cases/al-crit']")
    expect(page.locator("#case-reasons")).to_have_text("impossible_travel, high_amount")
    page.click("#trace-link")
    expect(page.locator("#trace-reasons")).to_have_text(
        "rules fired: impossible_travel, high_amount"
    )
    expect(page.locator("#trace-decision")).to_contain_text("decision DECLINE")
    expect(page.locator("#trace-contributions")).to_contain_text("amount_zscore")
    expect(page.locator("#trace-features")).to_contain_text("No feature-log row found")
    expect(page.locator("#trace-input")).to_contain_text('"amount": 480.0')
    page.screenshot(path=str(shots / "console-trace-followed.png"), full_page=True)
    page.context.close()


def test_a_viewer_has_no_resolve_button_and_a_forged_post_is_refused(
    browser: Browser, console_url: str
) -> None:
    page = _page(browser, console_url, "vera")
    page.goto("/cases/al-crit")
    expect(page.locator("#case-state")).to_have_text("open")
    assert page.locator("#resolve").count() == 0
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        "/cases/al-crit/resolve", form={"csrf_token": token or "", "label": "fraud"}
    )
    assert forged.status == 403
    assert "vera is a viewer: only analysts and admins may do this" in forged.text()
    page.context.close()


def _feedback(settings: Settings, transaction_id: str) -> list[Feedback]:
    clients = RealClients(settings)
    consumer = clients.broker().consumer(None)
    topic = "fraud-feedback"
    consumer.assign({TopicPartition(topic, p): 0 for p in range(6)})
    registry = clients.registry()
    decoder = Serde.from_settings(settings, registry).decoder(topic)
    found = []
    try:
        for _ in range(10):
            for record in consumer.consume(500, 0.5):
                found.append(records.from_dict(Feedback, decoder.decode(record.value())))
            if any(f.transaction_id == transaction_id for f in found):
                break
    finally:
        consumer.close()
        registry.close()
    return [f for f in found if f.transaction_id == transaction_id]


def test_an_analyst_resolves_a_case_and_the_feedback_lands_on_fraud_feedback(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    page = _page(browser, console_url, "ana")
    page.goto("/cases/al-high")
    page.check("input[name=label][value=fraud]")
    page.fill("input[name=note]", "cardholder confirmed")
    page.click("#resolve")
    expect(page.locator("#case-state")).to_have_text("closed: FRAUD (cardholder confirmed)")
    [feedback] = _feedback(stack, "tx-high")
    assert (feedback.label, feedback.source, feedback.user_id) == (
        Label.FRAUD,
        FeedbackSource.ANALYST,
        "u-high",
    )
    page.goto("/kafka/topics/fraud-feedback?key=u-high")
    expect(page.locator(".record pre.decoded").first).to_contain_text('"source": "ANALYST"')
    page.goto("/audit")
    expect(page.locator("#audit")).to_contain_text("resolve_case")
    page.screenshot(path=str(shots / "console-audit.png"), full_page=True)
    page.context.close()


def test_the_overview_throughput_changes_while_the_generator_runs(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    page = _page(browser, console_url, "vera")
    page.goto("/")
    generator = subprocess.Popen(
        [
            *SENTINEL,
            "generate",
            "--rate",
            "300",
            "--duration",
            "60s",
            "--users",
            "2000",
            "--seed",
            "7",
        ],
        env=cli_env(stack),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: set[str] = set()

    def rate_moved() -> bool:
        text = page.locator("#rate-in").inner_text()
        if text not in ("-", "0.0"):
            seen.add(text)
        page.wait_for_timeout(500)
        return len(seen) >= 2

    try:
        wait_for(rate_moved, 60, "two different non-zero input rates on the overview")
        # the lag chart draws each group in records and, dashed on the right axis, in seconds
        legend = page.locator("#chart-lag .u-legend")
        expect(legend).to_contain_text("fraud-detection-group")
        expect(legend).to_contain_text("fraud-detection-group (s)")
        page.screenshot(path=str(shots / "console-overview-live.png"), full_page=True)
    finally:
        generator.terminate()
        generator.wait(30)
    page.context.close()


def _register_two_models(settings: Settings) -> tuple[str, str]:
    """A model and its retrained child, the child champion (as `train` and `learn` leave them)."""
    registry = ModelRegistry(RealClients(settings).state())
    bands = {"HIGH": {"threshold": 0.8, "alert_rate": 0.01, "precision": 0.9, "recall": 0.4}}
    draft = ModelDraft(
        "lightgbm",
        FeatureSet.of("live", ("amount", "velocity_1h")),
        TrainingWindow(
            1_700_000_000_000,
            1_700_500_000_000,
            1_700_500_000_000,
            1_700_600_000_000,
            800,
            40,
            86_400_000,
        ),
        {"num_leaves": 15},
        {"roc_auc": 0.97, "average_precision": 0.61, "bands": bands},
        {"HIGH": 0.8},
        "train",
    )
    first, _ = registry.register(draft, b"tree one\n")
    second, _ = registry.register(ModelDraft.of(first, parent=first.version), b"tree two\n")
    if registry.aliases().get("champion") != second.version:
        registry.promote(second.version, "champion", "better AUC", "cli:ana")
    return first.version, second.version


def test_the_models_page_lists_versions_and_a_version_shows_its_lineage(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    first, second = _register_two_models(stack)
    page = _page(browser, console_url, "vera")
    page.goto("/models")
    expect(page.locator("#versions tr")).to_have_count(3)  # a header and two versions
    expect(page.locator("#read-only")).to_contain_text("Read-only")
    expect(page.locator(".history")).to_contain_text("better AUC")
    page.screenshot(path=str(shots / "console-models.png"), full_page=True)
    page.click(f"#versions a[href='/models/{second}']")
    expect(page.locator("h1")).to_have_text(f"Model {second}")
    expect(page.locator("#bands")).to_contain_text("HIGH")
    expect(page.locator("#feature-set")).to_contain_text("amount, velocity_1h")
    page.click(f"#model a[href='/models/{first}']")  # the parent
    expect(page.locator("h1")).to_have_text(f"Model {first}")
    page.screenshot(path=str(shots / "console-model.png"), full_page=True)
    page.context.close()


def test_the_live_tail_shows_a_record_produced_after_it_opened(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    page = _page(browser, console_url, "vera")
    page.goto("/kafka/topics/transactions")
    page.click("text=Live tail")
    expect(page.locator("#tail-note")).to_contain_text("Live tail")
    producer = RealClients(stack).broker().producer()
    producer.produce(Topics.from_settings(stack).transactions, b'{"tailed": true}', b"u-tail")
    assert producer.flush(30) == 0
    producer.close()
    expect(page.locator("#records .record").first).to_contain_text("key u-tail", timeout=15_000)
    page.screenshot(path=str(shots / "console-tail.png"), full_page=True)
    page.context.close()


def test_the_drift_page_shows_what_drift_run_found_on_the_feature_log(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    _, champion = _register_two_models(stack)
    produce_feature_log(stack, champion)
    subprocess.run(
        [*SENTINEL, "drift", "run", "--until-idle", "5"],
        env={**cli_env(stack), **DRIFT_ENV},
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=180,
    )
    page = _page(browser, console_url, "vera")
    page.goto("/drift")
    section = page.locator(f"#version-{champion}")
    expect(section.locator("h2")).to_have_text(f"Model {champion} (champion)")
    expect(section.locator(".reference")).to_contain_text("Reference built from 6,000 rows")
    expect(section.locator(".open-alarms tr")).to_have_count(3)  # a header and two alarms
    expect(section.locator(".open-alarms")).to_contain_text("feature[amount]")
    expect(section.locator(".open-alarms")).to_contain_text("feature[log_amount]")
    history = section.locator(".alarm-history tr")
    expect(history).to_have_count(3)  # a header and the two drifted windows
    expect(history.nth(1)).to_contain_text("amount, log_amount")
    expect(history.nth(1).locator("td").last).to_have_text("no")
    expect(history.nth(2).locator("td").last).to_have_text("yes")  # the first asked to retrain
    monitors = section.locator("table.monitors").first
    expect(monitors.locator("tbody tr").first).to_contain_text("feature[amount]")
    expect(monitors.locator("tbody tr").first).to_contain_text("ALARM")
    monitors.locator("th", has_text="monitor").click()  # sort by name
    expect(monitors.locator("tbody tr").first.locator("td").first).to_have_text("alert-rate[HIGH]")
    expect(section.locator(".chart-drift .u-legend")).to_contain_text("amount")
    expect(section.locator(".score-chart svg")).to_have_count(1)
    page.reload()  # the served order again: the drifted first
    expect(section.locator("table.monitors tbody tr").first).to_contain_text("feature[amount]")
    page.screenshot(path=str(shots / "console-drift.png"), full_page=True)
    page.context.close()


def test_the_experiments_page_lists_one_and_shows_its_arms_and_evidence_chart(
    browser: Browser, console_url: str, stack: Settings, shots: Path
) -> None:
    state = RealClients(stack).state()
    try:  # the unit tests' running split: 10,000 rows per arm, +15 recall points
        running_split(state, ExperimentStore(state, SYSTEM_CLOCK))
    finally:
        state.close()
    page = _page(browser, console_url, "vera")
    page.goto("/experiments")
    expect(page.locator("#experiments tr.running")).to_contain_text("exp-split")
    page.screenshot(path=str(shots / "console-experiments.png"), full_page=True)
    page.click("#experiments a[href='/experiments/exp-split']")
    expect(page.locator("h1")).to_have_text("Experiment exp-split")
    numbers = ["10,000", "2.00%", "0.50%", "4.0", "200", "120", "60.00%", "75.00%"]
    expect(page.locator("#arm-champion td")).to_have_text(["champion", "m-champ", *numbers])
    numbers = ["10,000", "3.00%", "0.60%", "5.0", "200", "150", "75.00%", "60.00%"]
    expect(page.locator("#arm-challenger td")).to_have_text(["challenger", "m-chall", *numbers])
    expect(page.locator("#interval")).to_have_text("-1.4 to +31.4 pts")
    expect(page.locator("#trail svg")).to_have_count(1)
    expect(page.locator("#trail svg polyline")).to_have_count(2)  # estimate and log ratio
    page.screenshot(path=str(shots / "console-experiment.png"), full_page=True)
    page.context.close()
