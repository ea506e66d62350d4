"""The ``carecircle`` command: a thin layer over the library.

Input problems are printed as messages (file, feature, column, found, expected) without
a traceback, and the command exits 1.  Every subcommand is a few lines over a public
function of the library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .errors import CarecircleError


def _cmd_validate(args: argparse.Namespace) -> int:
    from .pipeline import validate

    report = validate(args.scenario, quiet=args.quiet)
    print(report.text)
    return 1 if report.errors else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .pipeline import run_demo

    result = run_demo(out_dir=args.out, quiet=args.quiet)
    print(result.text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog="carecircle",
        description="Site elderly-care and childcare facilities within a 15-minute walk "
        "养老托育设施15分钟步行圈选址",
    )
    parser.add_argument("--version", action="version", version=f"carecircle {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress output 不显示进度")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="load and check every input 校验输入数据")
    p.add_argument("scenario", type=Path)
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("demo", help="run the bundled demo city 运行示范城区")
    p.add_argument("--out", type=Path, default=None, help="output folder (default maps/demo)")
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CarecircleError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted 已中断", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
