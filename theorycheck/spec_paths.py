"""Where specs are found: a path to a .toml file, or a name looked up in ./problems, then in the specs shipped with
the package (``theorycheck.specs``). Used by the CLI, the figures and the testing API (below the CLI)."""
from __future__ import annotations

import importlib.resources
from pathlib import Path

from .spec import SpecError, load_spec

PACKAGED_SPECS = Path(importlib.resources.files("theorycheck.specs"))


def spec_dirs() -> list[Path]:
    """./problems (a checkout or a user's own specs), then the specs shipped with the package."""
    dirs = [Path("problems"), PACKAGED_SPECS]
    return [d for i, d in enumerate(dirs) if d.is_dir() and d.resolve() not in [e.resolve() for e in dirs[:i]]]


def resolve_spec(arg: str) -> Path:
    """A spec is a path to a .toml file or the name of one in ./problems or the packaged default suite."""
    p = Path(arg)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise SpecError(f"{arg}: no such spec file")
        return p
    for d in spec_dirs():
        if (d / f"{arg}.toml").is_file():
            return d / f"{arg}.toml"
    raise SpecError(f"{arg}: no spec of that name in {', '.join(str(d) for d in spec_dirs())} "
                    "(see 'theorycheck list')")


def default_suite() -> list[Path]:
    """The packaged specs whose ``suite`` list contains "default" (synthetic problems, under a minute)."""
    return [p for p in sorted(PACKAGED_SPECS.glob("*.toml")) if "default" in load_spec(p).suite]
