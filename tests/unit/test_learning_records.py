"""The learning plane's pure parts: version records, hashes, lineage, label precedence."""

from __future__ import annotations

import pytest

from stream_sentinel.errors import ArtifactCorrupt, UsageError
from stream_sentinel.learning.aliases import AliasMove, check_alias, lineage, move, rollback_target
from stream_sentinel.learning.artifacts import assemble, split
from stream_sentinel.learning.feedback_stats import FeedbackStats, SourceDay
from stream_sentinel.learning.labels import (
    DELAY_BOUNDS_MS,
    SourcedLabel,
    combine,
    delay_bucket,
    format_bucket,
)
from stream_sentinel.learning.versions import FeatureSet, ModelVersion
from tests.contract.model_registry_contract import draft

pytestmark = pytest.mark.unit


def test_a_version_record_round_trips_through_its_encoding() -> None:
    ref, _ = split(b"some model text", "lightgbm-text", chunk_size=4)
    version = draft(parent="m-aaaaaaaaaaaa", tags={"source": "h.csv"}).complete("m-1", ref, 5)
    assert ModelVersion.decode(version.encode()) == version
    assert version.to_json()["feature_set"]["features"] == ["amount", "velocity_1h"]


def test_the_feature_set_hash_covers_order_and_encoding_not_the_name() -> None:
    base = FeatureSet.of("live", ("a", "b"))
    assert FeatureSet.of("other", ("a", "b")).hash == base.hash
    assert FeatureSet.of("live", ("b", "a")).hash != base.hash
    assert FeatureSet.of("live", ("a", "b"), "float32").hash != base.hash


def test_an_empty_artifact_is_one_empty_chunk_and_a_short_one_is_refused() -> None:
    ref, chunks = split(b"", "lightgbm-text")
    assert (ref.size, len(chunks), assemble(ref, [b""])) == (0, 1, b"")
    ref, chunks = split(b"abcdefgh", "lightgbm-text", chunk_size=4)
    with pytest.raises(ValueError):
        assemble(ref, [chunks[0][1]])  # fewer chunks than recorded
    with pytest.raises(ArtifactCorrupt, match=r"chunk 1 .* is corrupt"):
        assemble(ref, [b"abcd", b"efgX"])


def test_lineage_treats_rollbacks_as_undo_and_ignores_other_aliases() -> None:
    moves = [
        move("champion", "m-a", 1),
        move("shadow", "m-z", 1),
        move("champion", "m-b", 2),
        move("champion", "m-c", 3),
        move("champion", "m-b", 4, "rollback"),
        move("champion", "m-d", 5),
    ]
    assert lineage(moves, "champion") == ["m-a", "m-b", "m-d"]
    assert rollback_target(moves, "champion") == "m-b"
    assert lineage(list(reversed(moves)), "champion") == ["m-a", "m-b", "m-d"]
    with pytest.raises(UsageError, match="nothing to roll shadow back to: it points at m-z"):
        rollback_target(moves, "shadow")


def test_alias_moves_round_trip_and_alias_names_are_checked() -> None:
    entry = AliasMove("champion", "m-b", "m-a", 2, 7, "better", "cli:ana", "promote")
    assert AliasMove.decode(entry.encode()) == entry
    assert check_alias("challenger") == "challenger"
    for bad in ("", "Champion", "9lives", "m-abc", "x" * 33):
        with pytest.raises(UsageError, match="cannot be an alias"):
            check_alias(bad)


def sourced(source: str, value: str, label_time: int) -> SourcedLabel:
    return SourcedLabel(source, value, event_time=0, label_time=label_time)


def test_within_a_source_the_later_label_wins_and_an_older_one_changes_nothing() -> None:
    first = sourced("ANALYST", "FRAUD", 10)
    revised = combine({"ANALYST": first}, sourced("ANALYST", "LEGIT", 20))
    assert (revised.changed, revised.effective.label, revised.conflicts) == (True, "LEGIT", ())
    stale = combine({"ANALYST": sourced("ANALYST", "LEGIT", 20)}, first)
    assert (stale.changed, stale.effective.label) == (False, "LEGIT")


def test_a_customer_report_never_overrules_an_analyst_but_is_counted_as_a_conflict() -> None:
    change = combine({"ANALYST": sourced("ANALYST", "LEGIT", 10)}, sourced("CUSTOMER", "FRAUD", 99))
    assert (change.effective.source, change.conflicts) == ("ANALYST", ("ANALYST>CUSTOMER",))
    agree = combine({"ANALYST": sourced("ANALYST", "LEGIT", 10)}, sourced("OTHER", "LEGIT", 99))
    assert (agree.effective.source, agree.conflicts) == ("ANALYST", ())


def test_delays_fall_into_buckets_by_their_upper_bound() -> None:
    assert [delay_bucket(d) for d in (0, 60_000, 60_001, 91 * 86_400_000)] == [0, 0, 1, 12]
    assert len(DELAY_BOUNDS_MS) == 12
    assert [format_bucket(b) for b in (None, 1, 3, 5, 12)] == [
        "-",
        "<= 15m",
        "<= 6h",
        "<= 2d",
        "> 90d",
    ]


def test_a_delay_past_the_last_bound_is_null_in_json_not_a_negative_number() -> None:
    late = SourceDay("2024-03-01", "CHARGEBACK", 2, 2, {9: 1, 12: 1})  # <= 30 d and > 90 d
    assert late.to_json()["delay_ms"] == {"p50": 30 * 86_400_000, "p90": None, "p99": None}
    assert FeedbackStats([late], {}).lines()[1].endswith("<= 30d/> 90d/> 90d")


def test_a_pair_of_sources_counts_as_a_conflict_only_when_it_starts_disagreeing() -> None:
    stored: dict[str, SourcedLabel] = {}
    counted = []
    for source, value, at in [
        ("CUSTOMER", "FRAUD", 1),
        ("ANALYST", "LEGIT", 2),  # starts disagreeing: counted
        ("CUSTOMER", "FRAUD", 3),  # re-sent, still disagreeing: not again
        ("ANALYST", "LEGIT", 4),
        ("ANALYST", "FRAUD", 5),  # the analyst comes round: the pair agrees
        ("ANALYST", "LEGIT", 6),  # and disagrees anew: counted again
    ]:
        change = combine(stored, sourced(source, value, at))
        stored[source] = sourced(source, value, at)
        counted.append(change.conflicts)
    assert counted == [(), ("ANALYST>CUSTOMER",), (), (), (), ("ANALYST>CUSTOMER",)]
