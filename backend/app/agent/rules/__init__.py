"""The built-in rule-based agent (`AGENT=rules`): deterministic, offline, no model.

A message is prepared (`parse`: quotes, padding, typos, "put that down"), matched against an
ordered table of intents (`intents`), and acted on through the task tools (`actions`), which
find the tasks a request names (`resolve`: ids, "it", words of a title in any form) and answer
in one of the sentences of `replies`. The vocabulary lives in `lexicon`, word forms and typo
tolerance in `words`. Anything not understood gets help and no tool call at all.
"""

from backend.app.agent.rules.agent import RulesAgent

__all__ = ["RulesAgent"]
