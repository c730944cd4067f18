"""What every job process needs, loaded once in the forkserver the job processes are forked
from (`AgentServer(preload_modules=...)`), so a call's process starts with it in shared pages.

Without it each job process imported the whole agent (the app, the CRM, the personas, pydantic
models: ~0.3 s of CPU) and built its TLS context after the fork, and kept all of it in private
memory: 0.85 s of CPU per warm process against 0.48 s for LiveKit's minimal agent, and ~105 MiB
more for our four idle processes (bench/side_by_side.py, BENCHMARKS.md). Every call uses up a
process, so that was paid once per call. Importing this reads no settings and opens nothing.
"""

from __future__ import annotations

import importlib

from livekit.agents import tokenize

from agent import worker
from agent.providers import tls_context

tls_context()
for module in worker.PREWARM_IMPORTS:
    importlib.import_module(module)
tokenize.basic.hyphenate_word("warm")
