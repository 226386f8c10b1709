"""The rule language and the shipped rule library (see ``docs/rules.md``).

``load_rules(paths)`` compiles rule files (YAML or TOML; ``None`` for the shipped library) into a
:class:`RuleSet` that both engines run.
"""

from __future__ import annotations

from chainsleuth.monitor.rules.loader import RuleFileError, library_paths, load_file, load_rules
from chainsleuth.monitor.rules.model import Rule, RuleSet
from chainsleuth.monitor.rules.syntax import RuleSyntaxError, parse_expression

__all__ = [
    "Rule",
    "RuleFileError",
    "RuleSet",
    "RuleSyntaxError",
    "library_paths",
    "load_file",
    "load_rules",
    "parse_expression",
]
