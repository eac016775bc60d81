"""Acting on the decision rule: the running experiment promoted, retired or stopped, once.

After each batch the service reads the experiment's counters and asks the rule
(:func:`~stream_sentinel.logic.experiments.standing.standing`) what to do. A breached guard rail,
the label or day limit: stop (every detector returns the challenger's traffic to the champion
when it next reads the experiment; the service announces the end on ``model-events`` so they
read it at once). A verdict: a better challenger is promoted to champion under the
``automatic`` policy, or the experiment ends ``better`` and waits for an operator's
`models promote` under ``confirm``; a worse one is retired (the registry's ``retired`` alias
records it in the model history). And if the champion moved during the experiment (a learner
or an operator promoted another version), the experiment compared against a model that no
longer decides: it stops, saying so.

Each step is one guarded end of the experiment, the alias moved just before it only if the
experiment still runs (an operator's stop read since wins); a step retried after a crash
between the alias move and the end finds the alias moved already and only ends the experiment.
"""

from __future__ import annotations

import logging
from contextlib import suppress

from stream_sentinel.clock import Clock
from stream_sentinel.config.experiments import ExperimentSettings
from stream_sentinel.errors import AliasUnchanged, SentinelError, UsageError
from stream_sentinel.learning.aliases import CHAMPION
from stream_sentinel.learning.experiments.policy import limits_of, rule_of
from stream_sentinel.learning.experiments.store import ExperimentStore
from stream_sentinel.learning.registry import ModelRegistry
from stream_sentinel.logic.experiments.definition import Experiment
from stream_sentinel.logic.experiments.standing import standing

log = logging.getLogger(__name__)

RETIRED = "retired"
ACTOR = "experiments-service"


class Judge:
    def __init__(
        self,
        store: ExperimentStore,
        registry: ModelRegistry,
        settings: ExperimentSettings,
        clock: Clock,
        actor: str = ACTOR,
    ) -> None:
        self.store, self.registry = store, registry
        self.rule, self.limits = rule_of(settings), limits_of(settings)
        self.promotion, self.clock, self.actor = settings.promotion, clock, actor

    def judge(self, experiment: Experiment) -> Experiment | None:
        """The experiment after this step, if it ended (None: it goes on)."""
        champion = self.registry.aliases().get(CHAMPION)
        if champion != experiment.champion:
            return self._champion_moved(experiment, champion)
        counts = self.store.counts_with_cost(experiment.id)
        found = standing(experiment, counts, self.rule, self.limits, self.clock.now_ms())
        action, reason = found.outcome.action, found.outcome.reason
        if action == "continue":
            return None
        if action == "promote" and self.promotion == "automatic":
            if not self._move(experiment, CHAMPION, reason):
                return None
            return self._end(experiment, "promoted", reason)
        if action == "promote":
            how = f"promote it with `stream-sentinel models promote {experiment.challenger}`"
            return self._end(experiment, "better", f"{reason}; {how}")
        if action == "retire":
            if not self._move(experiment, RETIRED, reason):
                return None
            return self._end(experiment, "retired", reason)
        return self._end(experiment, "stopped", reason)

    def _champion_moved(self, experiment: Experiment, champion: str | None) -> Experiment | None:
        if champion == experiment.challenger:  # promoted (by an operator, or before a crash)
            return self._end(experiment, "promoted", f"{experiment.challenger} is champion")
        reason = (
            f"the champion moved to {champion} during the experiment, which compared against "
            f"{experiment.champion}: start a new one against the new champion"
        )
        return self._end(experiment, "stopped", reason)

    def _move(self, experiment: Experiment, alias: str, reason: str) -> bool:
        """Move ``alias`` to the challenger, if the experiment still runs (False: an operator
        stopped it since this service read it; nothing moves)."""
        current = self.store.active()
        if current is None or current.id != experiment.id:
            return False
        with suppress(AliasUnchanged):
            self.registry.promote(
                experiment.challenger, alias, f"experiment {experiment.id}: {reason}", self.actor
            )
        return True

    def _end(self, experiment: Experiment, status: str, outcome: str) -> Experiment | None:
        try:
            ended = self.store.end(experiment.id, status, outcome, self.actor)
        except UsageError:  # ended meanwhile (an operator's stop): nothing more to do here
            return None
        log.info("experiment %s %s: %s", experiment.id, status, outcome)
        try:  # detectors re-read the experiment on any model event (a promote's came before)
            self.registry.announce_latest(CHAMPION)
        except SentinelError as exc:
            log.warning(
                "the end of %s was not announced (%s): detectors see it within "
                "their model check interval",
                experiment.id,
                exc,
            )
        return ended
