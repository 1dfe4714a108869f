"""The rules agent's fixtures, shared by its test files (defined beside their helpers)."""

from tests.agent.test_rules import runner, seeded  # noqa: F401
