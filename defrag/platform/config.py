"""Reading settings from the environment, with errors that name the variable."""

import os
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable and the fix."""


def env_str(name: str, default: str | None = None) -> str:
    """Returns the variable's value, or the default; raises ConfigError when neither exists."""
    value = os.environ.get(name)
    if value not in (None, ""):
        return value
    if default is None:
        raise ConfigError(f"environment variable {name} is missing: set it and start again")
    return default


def env_int(name: str, default: int, minimum: int = 0, maximum: int = 2**31) -> int:
    """Returns the variable as an integer within [minimum, maximum]."""
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer: set a whole number") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}={value} is outside {minimum}..{maximum}: set a value in that range")
    return value


def env_choice(name: str, choices: tuple[str, ...], default: str) -> str:
    """Returns the variable's value, which must be one of ``choices``, or the default when it is unset."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    if value not in choices:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(choices)}: set one of them or leave it unset")
    return value


def descriptor_path() -> pathlib.Path:
    """Returns the descriptor set built by `make protos`."""
    return pathlib.Path(env_str("DEFRAG_DESCRIPTOR", str(ROOT / "build" / "defrag.pb")))
