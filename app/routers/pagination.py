from typing import Annotated

from fastapi import Path, Query

from app.schemas import MAX_ID

Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000)]

# SQLite integers are 64-bit: a larger id would overflow the driver (a 500), not give a 422.
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
