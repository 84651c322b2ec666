"""``vrtherapy console`` and ``vrtherapy user``: the console process and its accounts.

Only ``argparse`` and the accounts module are imported here, so building the ``vrtherapy``
parser stays fast; the web server (aiohttp) is imported when ``console`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

from console.errors import AccountError
from console.users import ROLES, USERS_FILE, UserStore
from engine import cli_types

__all__ = ["DEFAULT_BIND", "add_parsers", "cmd_console", "cmd_user"]

DEFAULT_BIND = "127.0.0.1:8765"


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        type=cli_types.out_folder,
        default=Path("sessions"),
        help="sessions folder whose audit.log records what is done (default: ./sessions)",
    )
    p.add_argument("--operator", metavar="NAME", help="who runs this (default: the login name)")


def add_parsers(sub: Any) -> None:
    """Add ``console`` and ``user`` to the ``vrtherapy`` subcommands."""
    c = sub.add_parser(
        "console",
        help="serve the therapist console (a web page) for running sessions",
        description="Watch and steer a running session from a browser. Serves "
        f"{DEFAULT_BIND} by default; any other address needs TLS. Prints a one-time pairing "
        "code for a tablet. See README, 'Therapist console', and docs/console.md.",
    )
    c.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="SID",
        help="open this session (or, without SID, the only one running) for every page",
    )
    c.add_argument(
        "--bind",
        default=DEFAULT_BIND,
        metavar="HOST:PORT",
        help=f"address to serve (default {DEFAULT_BIND}; port 0: any free port)",
    )
    c.add_argument(
        "--tls-cert", type=cli_types.path, metavar="FILE", help="PEM certificate (with --tls-key)"
    )
    c.add_argument("--tls-key", type=cli_types.path, metavar="FILE", help="PEM private key")
    c.add_argument(
        "--tls-self-signed",
        action="store_true",
        help="serve TLS with the console's own certificate (made once in the site folder; "
        "its SHA-256 fingerprint is printed for the tablet to confirm)",
    )
    _common(c)
    u = sub.add_parser(
        "user",
        help="console accounts: add, list, remove, passwd",
        description=f"Accounts of the therapist console, in <site folder>/{USERS_FILE} "
        "(mode 0600, scrypt hashes). Only therapists and admins may steer a session.",
    )
    us = u.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = us.add_parser("add", help="create an account (asks for the password twice)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    passwd = us.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name")
    for p in (add, passwd):
        p.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input",
        )
        _common(p)
    us.add_parser("list", help="list the accounts")
    remove = us.add_parser("remove", help="delete an account")
    remove.add_argument("name")
    _common(remove)


def _store() -> UserStore:
    from engine.privacy.site import site_dir

    return UserStore(site_dir() / USERS_FILE)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise AccountError("no terminal to ask the password on: give --password-stdin")
    first = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ; nothing changed")
    return first


def _audit(args: argparse.Namespace, **details: Any) -> None:
    from engine.privacy.cli import audit_for
    from engine.privacy.site import operator_name

    args.out.mkdir(parents=True, exist_ok=True)
    audit_for(args.out, operator_name(args.operator)).append("console_account", **details)


def cmd_user(args: argparse.Namespace) -> int:
    """``vrtherapy user add|list|remove|passwd``."""
    store = _store()
    action = args.user_command
    if action == "list":
        users = store.users()
        for u in users:
            print(f"{u.name:<24} {u.role:<10} created {u.created}")
        if not users:
            print(f"no accounts in {store.path}", file=sys.stderr)
        return 0
    if action == "add":
        user = store.add(args.name, args.role, _password(args))
        _audit(args, action="add", name=user.name, role=user.role)
        print(f"added {user.name} ({user.role}) to {store.path}")
    elif action == "passwd":
        store.set_password(args.name, _password(args))
        _audit(args, action="passwd", name=args.name)
        print(f"password of {args.name} changed in {store.path}")
    else:
        store.remove(args.name)
        _audit(args, action="remove", name=args.name)
        print(f"removed {args.name} from {store.path}")
    return 0


def cmd_console(args: argparse.Namespace) -> int:
    """``vrtherapy console``: serve until Ctrl-C or SIGTERM."""
    from console.launch import Launch

    asyncio.run(Launch.from_args(args).run())
    return 0
