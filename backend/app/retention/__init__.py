"""Retention: conversations idle longer than RETENTION_DAYS are deleted with their messages."""
