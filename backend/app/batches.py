"""Reading many rows for a download: batch by batch, by keyset, each batch in a short session.

A slow client therefore pins no database connection between batches, and a download of
100,000 rows takes the memory of one batch. Rows committed meanwhile are included when their
key comes after the batch being read; none appears twice.
"""

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session
from sqlmodel.sql.expression import SelectOfScalar

BATCH_SIZE = 500

Public = TypeVar("Public", bound=BaseModel)


def keyset_batches(
    engine: Engine,
    query_after: Callable[[Any], SelectOfScalar[Any]],
    public: type[Public],
    key: Callable[[Public], Any],
    start: Any,
    size: int = BATCH_SIZE,
) -> Iterator[list[Public]]:
    """Batches of `public` objects: `query_after(key)` selects the rows after a key in key order
    (the limit is added here); `key` reads the key of the last row; `start` precedes every row."""
    after = start
    while True:
        with Session(engine) as session:
            rows = session.exec(query_after(after).limit(size)).all()
            batch = [public.model_validate(row) for row in rows]
        if batch:
            yield batch
        if len(batch) < size:
            return
        after = key(batch[-1])
