"""Pick the agent the settings name. The OpenAI SDK is imported only when it is selected."""

from backend.app.agent.base import Agent
from backend.app.config import Settings


def build_agent(settings: Settings) -> Agent:
    if settings.agent == "openai":
        from backend.app.agent.openai_loop import OpenAIAgent  # ~0.4 s import: only when used

        return OpenAIAgent(settings)
    from backend.app.agent.rules import RulesAgent

    return RulesAgent()
