"""Word books: YAML lists of phrases per category, read with the planner's phrase matcher.

config/conversation.yaml (follow-ups, answers to choices) and
config/requests.yaml (conditions, promotion, stages, schedules, forecasts,
drift) are plain mappings of category -> phrases (one level of sections
allowed), so an operator teaches a team's own words without touching code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from agents.planning.lexicon import Hit, PhraseMatcher
from graphs.errors import ConfigError


class WordBook:
    def __init__(self, sections: dict[str, dict[str, list[str]]], source: str):
        self.sections = sections
        self.source = source
        # one matcher per section: a longer phrase of one section ("revert it", a follow-up) must not hide a phrase of
        # another ("revert", an answer)
        self.matchers = {section: PhraseMatcher([(phrase, section, key) for key, phrases in keys.items() for phrase in phrases])
                         for section, keys in sections.items()}

    def hits(self, text: str, section: str) -> list[Hit]:
        matcher = self.matchers.get(section)
        return matcher.scan(text.lower()) if matcher is not None else []

    def keys(self, text: str, section: str) -> list[str]:
        out: list[str] = []
        for hit in self.hits(text, section):
            out += [k for k in hit.keys(section) if k not in out]
        return out

    def has(self, text: str, section: str, key: str) -> bool:
        return key in self.keys(text, section)


def _sections(raw: Any, path: Path) -> dict[str, dict[str, list[str]]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must map sections to categories of phrases")
    out: dict[str, dict[str, list[str]]] = {}
    for section, keys in raw.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{path}: {section} must map categories to lists of phrases")
        out[str(section)] = {}
        for key, phrases in keys.items():
            if not isinstance(phrases, list) or not all(isinstance(p, (str, int, float)) for p in phrases):
                raise ConfigError(f"{path}: {section}.{key} must be a list of phrases")
            out[str(section)][str(key)] = [str(p) for p in phrases]
    return out


@lru_cache(maxsize=16)
def _load(path: str) -> WordBook:
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"word book not found: {file}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {str(exc).splitlines()[0]}") from None
    data = {k: v for k, v in (raw or {}).items() if isinstance(v, dict) and all(isinstance(x, list) for x in v.values())}
    return WordBook(_sections(data, file), str(file))


def word_book(name: str, config_dir: str | Path | None = None) -> WordBook:
    """config/<name>.yaml as a WordBook (sections whose values are all phrase lists; other keys are settings)."""
    if config_dir is None:
        from config.settings import get_settings

        config_dir = get_settings().config_dir
    return _load(str(Path(config_dir) / f"{name}.yaml"))


def settings_of(name: str, config_dir: str | Path | None = None) -> dict[str, Any]:
    """The non-phrase settings of config/<name>.yaml (defaults, limits, templates)."""
    if config_dir is None:
        from config.settings import get_settings

        config_dir = get_settings().config_dir
    return _settings(str(Path(config_dir) / f"{name}.yaml"))


@lru_cache(maxsize=16)
def _settings(path: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"settings file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {str(exc).splitlines()[0]}") from None
    return {k: v for k, v in raw.items() if not (isinstance(v, dict) and v and all(isinstance(x, list) for x in v.values()))}


__all__ = ["WordBook", "word_book", "settings_of"]
