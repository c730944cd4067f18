"""`python -m agent start|dev|download-files`: run the call-center worker.

`start` is production (JSON logs, drains calls on SIGTERM, health server from
AGENT_HEALTH_URL); `dev` is the same worker with readable logs and no drain;
`download-files` fetches the plugins' model files (used at image build time).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from livekit.agents.__main__ import main as livekit_main

from app.settings import SettingsError, get_settings

SERVER_MODULE = Path(__file__).with_name("server.py")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("start", "run the worker in production mode"),
        ("dev", "run the worker with development logging"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--log-level", default="DEBUG" if name == "dev" else "INFO")
    commands.add_parser("download-files", help="download the plugins' model files")
    args = parser.parse_args(argv)

    if args.command == "download-files":
        return livekit_main(["download-files"])
    try:
        get_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    livekit_args = ["start", str(SERVER_MODULE), "--log-level", args.log_level]
    if args.command == "dev":
        livekit_args.append("--dev")
    return livekit_main(livekit_args)


if __name__ == "__main__":
    sys.exit(main())
