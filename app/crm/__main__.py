"""`python -m app.crm init|backup FILE|restore FILE`: the CRM file from the command line,
using CRM_DB_PATH from the settings."""

from __future__ import annotations

import argparse
import sys

from app.crm import open_crm
from app.crm.backup import backup, restore
from app.crm.errors import CrmError
from app.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.crm")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("init", help="create or upgrade the CRM file")
    commands.add_parser("backup", help="online backup to a new file").add_argument("file")
    commands.add_parser("restore", help="replace the CRM with a backup").add_argument("file")
    args = parser.parse_args(argv)
    try:
        path = get_settings().crm_db_path
        if args.command == "init":
            open_crm(path).close()
            print(f"CRM ready at {path}")
        elif args.command == "backup":
            print(f"backed up {path} to {backup(path, args.file)}")
        else:
            print(f"restored {restore(args.file, path)} from {args.file}")
    except (SettingsError, CrmError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
