"""Where edgenas finds its data.

* Shipped data is package data (``edgenas/targets/*.yaml``, ``edgenas/latency_tables/``), read through
  :mod:`importlib.resources`, so a wheel install works from any folder like the checkout does.
* User data (targets and tables made on the user's devices, caches) lives in the user data directory:
  ``$EDGENAS_HOME``, default the platform's (``~/.local/share/edgenas`` on Linux). Nothing is ever
  written into the installed package.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from .errors import ConfigError

__all__ = ["edgenas_home", "shipped_latency_tables_dir", "shipped_targets_dir", "target_dirs", "user_profiles_dir",
           "user_latency_tables_dir", "user_spaces_dir", "user_targets_dir"]


def _package_dir(name: str) -> Path:
    res = files("edgenas").joinpath(name)
    path = Path(str(res))
    if not path.is_dir():  # e.g. a zipped install, where package data has no file-system path
        raise ConfigError(f"edgenas package data folder {name!r} not found at {str(path)!r}; "
                          "expected an unzipped install (pip install edgenas)")
    return path


def shipped_targets_dir() -> Path:
    """The shipped target definitions, ``edgenas/targets/``."""
    return _package_dir("targets")


def shipped_latency_tables_dir() -> Path:
    """The shipped measured tables, ``edgenas/latency_tables/``."""
    return _package_dir("latency_tables")


def edgenas_home() -> Path:
    """The user data directory: ``$EDGENAS_HOME``, default the platform's user data dir."""
    env = os.environ.get("EDGENAS_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("edgenas", appauthor=False))


def user_targets_dir() -> Path:
    """Targets the user made (``edgenas profile`` / ``edgenas fit``): ``$EDGENAS_HOME/targets``."""
    return edgenas_home() / "targets"


def user_latency_tables_dir() -> Path:
    """Tables the user measured: ``$EDGENAS_HOME/latency_tables``."""
    return edgenas_home() / "latency_tables"


def user_spaces_dir() -> Path:
    """Space definitions the user added (``edgenas spaces add``, ``--space FILE.yaml``): ``$EDGENAS_HOME/spaces``."""
    return edgenas_home() / "spaces"


def user_profiles_dir() -> Path:
    """Journals of `edgenas profile` (every timing as it arrived): ``$EDGENAS_HOME/profiles``."""
    return edgenas_home() / "profiles"



def target_dirs() -> tuple[Path, ...]:
    """Folders searched for ``*.yaml`` targets: the shipped ones, then the user's."""
    return (shipped_targets_dir(), user_targets_dir())
