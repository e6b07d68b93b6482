"""Command line: `python -m devstack run | migrate | doctor | phone [options]`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description="Dance of Mind local stack")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="start stand-ins, migrate, run web + worker + bot until Ctrl-C")
    commands.add_parser("migrate", help="apply the migrations (starting stand-ins where needed)")
    commands.add_parser("doctor", help="check the running `make run` stack (or what .env configures)")
    phone = commands.add_parser("phone", help="play a Telegram user against the emulator")
    from devstack.phone import add_arguments

    add_arguments(phone)
    args = parser.parse_args(argv)
    if args.command == "run":
        from devstack.run import run

        return run()
    if args.command == "migrate":
        from devstack.run import migrate

        return migrate()
    if args.command == "doctor":
        from devstack.doctor import main as doctor_main

        return doctor_main()
    from devstack.phone import main as phone_main

    return phone_main(args)


if __name__ == "__main__":
    sys.exit(main())
