"""Example theorycheck plug-in (see docs/plugins.md): an algorithm, a problem family and a theorem, found by
theorycheck through the entry points declared in pyproject.toml. Nothing here is part of theorycheck itself."""
