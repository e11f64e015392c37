"""Other momentum methods, as pure batched step functions on (R, n) tensors (R replicas first).

* :mod:`.nadam` — Dozat's NAdam (Algorithm 8, μ_t schedule) and its exact relation to ``torch.optim.NAdam``.
* :mod:`.spa` — SGD+M (heavy ball) ⇔ stochastic primal averaging (Defazio, THEORY §7), schedule maps, Fig. 1.
* :mod:`.normalized` — normalized SGD with momentum, NIGT and the adaptive Algorithm 2 of Cutkosky & Mehta
  (THEORY §6) with the Theorem 1 / Theorem 3 parameters and bounds and the Lemma 2 certificate; a smooth
  non-convex robust-regression problem with derived L and ρ.
* :mod:`.baselines_a5` — classical momentum, QHM and AggMo ([ZJDC] App. A.5).

Every method is ``init(x0) -> state`` and ``step(state, g, ...) -> new state`` (states are NamedTuples, never
modified in place); hyper-parameters are floats or per-replica (R,) tensors.
"""
