"""Experiment specs (TOML), shipped with the package as ``theorycheck.specs``."""
