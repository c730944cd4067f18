"""`python -m app.accounts create-admin LOGIN --name NAME`: the first admin (and any later one)
from the command line, on the machine that holds the CRM. The password is asked twice (or read
from standard input when it is not a terminal) and never echoed, logged or stored in clear."""

from __future__ import annotations

import argparse
import getpass
import sys

from app.crm import CrmError, audit, open_crm, operators
from app.settings import SettingsError, get_settings


def read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"password ({operators.MIN_PASSWORD} characters or more): ")
    if getpass.getpass("the same password again: ") != first:
        raise CrmError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.accounts")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create an admin operator")
    create.add_argument("login")
    create.add_argument("--name", required=True)
    commands.add_parser("list", help="list the operators")
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 1
    db = open_crm(settings.crm_db_path)
    try:
        if args.command == "list":
            for op in operators.list_operators(db):
                state = "active" if op["active"] else "disabled"
                print(f"{op['id']}\t{op['login']}\t{op['role']}\t{state}\t{op['name']}")
            return 0
        admin = operators.create_operator(
            db, login=args.login, name=args.name, role="admin", password=read_password()
        )
        audit.record(
            db,
            operator_id=None,
            operator_login="command-line",
            action="operator.create",
            record_type="operator",
            record_id=admin["id"],
            login=admin["login"],
            role="admin",
        )
        print(f"created the admin {admin['login']!r}: sign in at /dashboard")
        return 0
    except CrmError as error:
        print(f"not created: {error}", file=sys.stderr)
        return 1
    finally:
        db.close()


if __name__ == "__main__":
    sys.exit(main())
