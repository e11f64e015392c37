"""theorycheck: executable, falsifiable checks of convergence theorems for stochastic convex optimization.

Data flow (one direction): problem → oracle → algorithm → run → statistics → report.
"""
__version__ = "0.1.0"
