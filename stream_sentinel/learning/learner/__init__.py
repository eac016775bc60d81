"""The continuous learner (`stream-sentinel learn`): the labelled training set, retraining and
the promotion policy. :mod:`.rows`, :mod:`.trainingset`, :mod:`.evaluation` and :mod:`.policy`
are pure (plain values and arrays in and out); :mod:`.store`, :mod:`.consumers`,
:mod:`.retrain` and :mod:`.service` do the I/O."""
