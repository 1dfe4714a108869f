"""One retention pass, for cron: `python -m backend.app.retention` (or `make retention`).

Reads the same settings as the server (DATABASE_URL, RETENTION_DAYS); prints one line of what
it deleted. Exits with status 2 and one line when RETENTION_DAYS is unset or bad.
"""

import logging
import sys

from sqlalchemy.exc import DBAPIError

from backend.app.config import ConfigError, load_settings
from backend.app.db import make_engine
from backend.app.retention import service as retention_service


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if settings.retention_days is None:
        print(
            "configuration error: RETENTION_DAYS is not set; set it to the number of days "
            "an idle conversation is kept",
            file=sys.stderr,
        )
        return 2
    engine = make_engine(settings.database_url)
    try:
        retention_service.delete_idle_conversations(engine, settings.retention_days)
    except DBAPIError as exc:
        print(f"database error: {str(exc.orig).strip().splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
