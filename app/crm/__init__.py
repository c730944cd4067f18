"""The CRM store: plain SQLite through sqlite-utils, shared by the API and the agent worker.

Free of any FastAPI import so the worker can use it in-process. Functions are small and
keyword-only; they raise `NotFound` / `InvalidInput`, translated at the edges (HTTP errors in
the API, `ToolError` in agent tools).
"""

from app.crm.db import connect, open_crm, writing
from app.crm.errors import Conflict, CrmError, InvalidInput, NotFound

__all__ = ["Conflict", "CrmError", "InvalidInput", "NotFound", "connect", "open_crm", "writing"]
