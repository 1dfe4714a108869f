"""Token usage of chat turns: per message, per UTC day, and the daily budget."""
