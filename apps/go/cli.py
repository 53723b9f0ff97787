"""`python run.py go ...`: the Go app's commands.

* `gtp`: a GTP 2 engine on stdin/stdout (rules and analysis commands; genmove
  arrives with the policy network).
* `prepare`: SGF archives -> compact, validated game records for training.
"""
from shared.errors import UserError


def register(subparsers):
    gtp = subparsers.add_parser(
        "gtp", help="speak GTP version 2 on stdin/stdout",
        description="A Go Text Protocol 2 engine: rules, handicap, loadsgf and GNU Go's analysis commands "
                    "(is_legal, countlib, findlib, list_stones, captures).")
    gtp.add_argument("--superko", action="store_true", help="forbid repeating a whole-board position")
    gtp.set_defaults(func=_gtp)

    prepare = subparsers.add_parser(
        "prepare", help="turn SGF archives into training records",
        description="Read SGF games from .tar.gz/.zip archives or folders, validate them by replaying with the "
                    "rules engine, and write compact per-shard records plus a train/validation split. "
                    "Rerunning skips shards already done.")
    prepare.add_argument("--data-dir", help="local dataset folder (else $BEYOND_PIXELS_DATA, cache, download)")
    prepare.add_argument("--source", nargs="+", default=["kgs"],
                         help="kgs, pro, or paths of archives/folders of .sgf files (default: kgs)")
    prepare.add_argument("--out", required=True, help="output folder")
    prepare.add_argument("--workers", type=int, default=1, help="worker processes (default: %(default)s)")
    prepare.add_argument("--val-fraction", type=float, default=0.05,
                         help="fraction of games for validation, chosen by a hash of the game (default: %(default)s)")
    prepare.add_argument("--shard-games", type=int, default=2000,
                         help="games per shard: the unit of parallel work and of resuming (default: %(default)s)")
    prepare.set_defaults(func=_prepare)


def _gtp(args):
    import sys
    from apps.go.gtp_engine import GtpEngine
    GtpEngine(superko=args.superko).run(sys.stdin, sys.stdout)


def _prepare(args):
    from apps.go import prepare
    if not 0 <= args.val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), not {args.val_fraction}")
    if args.workers < 1 or args.shard_games < 1:
        raise UserError("--workers and --shard-games must be at least 1")
    summary = prepare.prepare(prepare.resolve_sources(args.source, args.data_dir), args.out,
                              workers=args.workers, val_fraction=args.val_fraction, shard_games=args.shard_games)
    print(prepare.describe(summary))
