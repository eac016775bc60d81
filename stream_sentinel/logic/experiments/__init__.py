"""Champion/challenger experiments, the pure half: the user split, the sequential test, the
guard rails and the simulation that validates the decision rule (numpy and scipy only)."""
