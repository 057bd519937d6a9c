"""Tiers from config/tiers.yaml (or the file named by DEFRAG_TIERS)."""

import dataclasses
import os
import pathlib

import yaml

from defrag.platform.config import ROOT, ConfigError

DEFAULT_PATH = ROOT / "config" / "tiers.yaml"
ALL_METHODS = "*"


@dataclasses.dataclass(frozen=True)
class Tier:
    """One plan: its monthly cap (None = no cap), burst limit and methods."""

    name: str
    monthly_quota: int | None
    burst_per_second: int
    methods: frozenset[str]

    def includes(self, method: str) -> bool:
        """Tells whether the tier may call the gRPC method."""
        return ALL_METHODS in self.methods or method in self.methods


def tiers_path() -> pathlib.Path:
    """Returns the tiers file in use."""
    return pathlib.Path(os.environ.get("DEFRAG_TIERS") or DEFAULT_PATH)


def load(path: pathlib.Path | None = None, known_methods: set[str] | None = None) -> dict[str, Tier]:
    """Reads and checks the tiers file; raises ConfigError naming the entry at fault."""
    path = path or tiers_path()
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read the tiers file {path}: {error}") from None
    entries = (document or {}).get("tiers")
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: expected a 'tiers' mapping with at least one tier")
    return {name: _parse_tier(path, name, entry, known_methods) for name, entry in entries.items()}


def _parse_tier(path, name, entry, known_methods) -> Tier:
    where = f"{path}: tier {name!r}"
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{where}: a tier name uses letters, digits, '-' and '_' only")
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with monthly_quota, burst_per_second and methods")

    quota = entry.get("monthly_quota")
    if quota is not None and (not isinstance(quota, int) or quota < 0 or quota > 2**32 - 1):
        raise ConfigError(f"{where}: monthly_quota must be a whole number 0..4294967295 or null (no cap)")
    burst = entry.get("burst_per_second")
    if not isinstance(burst, int) or not 1 <= burst <= 1_000_000:
        raise ConfigError(f"{where}: burst_per_second must be a whole number 1..1000000")

    methods = entry.get("methods") or []
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise ConfigError(f"{where}: methods must be a list of '/package.Service/Method' names or '*'")
    for method in methods:
        if method != ALL_METHODS and known_methods is not None and method not in known_methods:
            raise ConfigError(f"{where}: unknown method {method!r}; known: {', '.join(sorted(known_methods))}")
    return Tier(name, quota, burst, frozenset(methods))


def lua_table(tiers: dict[str, Tier], method: str, free_for_all: bool) -> str:
    """Encodes the tiers for the metering script: "name quota burst included;..."."""
    parts = []
    for tier in tiers.values():
        quota = -1 if tier.monthly_quota is None else tier.monthly_quota
        included = 1 if free_for_all or tier.includes(method) else 0
        parts.append(f"{tier.name} {quota} {tier.burst_per_second} {included}")
    return ";".join(parts)
