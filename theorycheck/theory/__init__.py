"""Theory side of the checks: bound calculators (bounds), the Lemma 1 certificate (lemma1) and assumption checks
(assumptions) — pure functions of declared constants; no module here reaches back into the runner."""
