"""ACRCloud catalog sync: a pure planner (:mod:`.plan`), the local catalog walk (:mod:`.catalog`), the deletion
guard (:mod:`.guard`) and the executor that carries a plan out with the hook (:mod:`.execute`)."""
