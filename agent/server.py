"""The worker's `AgentServer`, as the LiveKit CLI discovers it (`server`). Importing this
module reads the settings; `python -m agent` is the way to run it."""

from agent.worker import build_server
from app.settings import get_settings

server = build_server(get_settings())
