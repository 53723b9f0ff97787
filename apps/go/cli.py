"""`python run.py go ...`: the Go app's commands.

* `train`: the AlphaGo policy network on prepared records.
* `evaluate`: top-1 / top-5 move prediction on SGF games or prepared records.
* `predict`: the policy's top moves at one position of an SGF file, with a heatmap.
* `gtp`: a GTP 2 engine on stdin/stdout (with `--model`, it plays: genmove).
* `match`: the policy against another GTP engine, with SGFs and a win interval.
* `prepare`: SGF archives -> compact, validated game records for training.
* `visualize`: what the policy looks at (heat map, plane saliency, Grad-CAM, maximizing boards).
"""
import io
import json
import os
import sys
import time
from pathlib import Path

from apps.go import APP
from shared import cli as common
from shared.errors import UserError


def register(subparsers):
    from apps.go import ARCHITECTURES, PRESETS, SCHEDULES

    train = subparsers.add_parser(
        "train", help="train the policy network on prepared records",
        description="Train the no-pooling policy network (5x5, 3x3s, 1x1 + per-point bias, softmax over 361) "
                    "on records from `run.py go prepare`, with random 8-fold symmetry. Epochs are "
                    "--steps-per-epoch steps; validation is a fixed sample of validation-game positions.")
    train.add_argument("--data", required=True, help="folder made by `run.py go prepare` (index.npz, shards/)")
    train.add_argument("--preset", choices=sorted(PRESETS), default="default",
                       help=", ".join(f"{k}: {v[0]} layers x {v[1]} filters" for k, v in PRESETS.items()))
    train.add_argument("--arch", choices=ARCHITECTURES, default="plain",
                       help="plain: AlphaGo's stack of convolutions; residual: residual units of two 3x3 "
                            "(Cazenave 2018); mobile: MobileNet v2 inverted residuals (Cazenave 2020); all "
                            "keep the full board and the same head (default: %(default)s)")
    train.add_argument("--layers", type=common.positive_int, help="convolutions in all (overrides the preset)")
    train.add_argument("--filters", type=common.positive_int, help="filters per hidden layer (overrides the preset)")
    train.add_argument("--schedule", choices=sorted(SCHEDULES), default="modern",
                       help="modern: AdamW + warm-up + cosine, batch 64, lr 1e-3 (default); "
                            "paper: plain SGD, batch 16, lr 0.003 halved every --halve-every steps")
    train.add_argument("--halve-every", type=common.positive_int, default=80_000_000,
                       help="paper schedule: steps between halvings (default: %(default)s, as in the paper)")
    train.add_argument("--steps-per-epoch", type=int, default=1000, help="default: %(default)s")
    train.add_argument("--val-positions", type=int, default=4000,
                       help="validation positions sampled from the validation games (default: %(default)s)")
    train.add_argument("--input", choices=["replay", "packed"], default="replay",
                       help="replay: featurize positions while training (Python generators); packed: read "
                       "the bit-packed planes of `go pack` (all in the graph; for GPUs) (default: %(default)s)")
    train.add_argument("--input-workers", type=int, default=2,
                       help="parallel featurizing generators of --input replay (default: %(default)s)")
    train.add_argument("--measure-positions", type=int, default=2048,
                       help="positions read to measure the input pipeline's rate (default: %(default)s)")
    train.add_argument("--quiet", action="store_true", help="one log line per epoch (no progress bar)")
    train.add_argument("--exclude-games", nargs="+", metavar="GLOB",
                       help="leave out games whose name (<archive>/<path>) matches, from training and "
                            "validation, e.g. 'KGS-2017_06*' to test on a later month")
    common.add_transfer_args(train, "start from this policy's weights with a fresh optimizer and schedule "
                             "(same --layers/--filters), e.g. to train a finished run further or to retrain "
                             "only its head (--freeze all-but-head: the final 1x1 convolution and point biases)")
    common.add_training_args(train, epochs=100, batch_size=None, learning_rate=None, out="runs/go_policy")
    common.add_distribute_arg(train)
    train.set_defaults(func=_train)

    evaluate = subparsers.add_parser(
        "evaluate", help="top-1/top-5 move prediction on held-out games",
        description="Move-prediction accuracy on every non-pass move (passes excluded, as in the paper) of SGF "
                    "games, or of a prepared folder's validation games. Unreadable games are skipped and listed.")
    evaluate.add_argument("--model", required=True, help="a .keras policy model saved by this app")
    evaluate.add_argument("--data", required=True,
                          help="an .sgf file, a folder or .tar.gz/.zip of SGF files, or a prepared folder")
    evaluate.add_argument("--split", choices=["validation", "train"], default="validation",
                          help="split of a prepared folder (default: %(default)s)")
    evaluate.add_argument("--games", nargs="+", metavar="GLOB",
                          help="prepared folder: only games whose name (<archive>/<path>) matches, "
                               "e.g. 'KGS-2017_06*' for one month")
    evaluate.add_argument("--max-games", type=common.positive_int, help="only the first N games")
    evaluate.add_argument("--ensemble", action="store_true", help="average the 8 board symmetries")
    evaluate.add_argument("--batch-size", type=common.positive_int, default=256)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as one JSON line, last on stdout")
    evaluate.set_defaults(func=_evaluate)

    predict = subparsers.add_parser(
        "predict", help="top moves at one position of an SGF game, with a heatmap",
        description="The policy's top-k moves before move N of an SGF game (move N is the one to predict), "
                    "an ASCII board with the top moves marked 1..k, and a PNG heatmap.")
    predict.add_argument("--model", required=True)
    predict.add_argument("--sgf", required=True, help="an SGF file (main line)")
    predict.add_argument("--move", type=common.positive_int, required=True,
                         help="1-based number of the move to predict (the position before it)")
    predict.add_argument("--top", type=common.positive_int, default=5)
    predict.add_argument("--heatmap", help="PNG path (default: <sgf name>-move<N>.png)")
    predict.add_argument("--ensemble", action="store_true", help="average the 8 board symmetries")
    predict.add_argument("--json", action="store_true", help="print the result as one JSON line, last on stdout")
    predict.set_defaults(func=_predict)

    gtp = subparsers.add_parser(
        "gtp", help="speak GTP version 2 on stdin/stdout",
        description="A Go Text Protocol 2 engine: rules, handicap, loadsgf and GNU Go's analysis commands "
                    "(is_legal, countlib, findlib, list_stones, captures), clocks (time_settings, time_left, "
                    "kgs-time_settings), final_score and final_status_list; with --model also genmove from the "
                    "policy network (best sensible move, never fills its own eyes, passes when nothing sensible), "
                    "lz-analyze, kata-analyze and GoGui's analyze commands, for Sabaki, Lizzie and GoGui. "
                    "The network is 19x19 only and loads in the background: the engine answers at once.")
    gtp.add_argument("--superko", action="store_true", help="forbid repeating a whole-board position")
    _add_player_args(gtp, required=False)
    gtp.set_defaults(func=_gtp)

    match = subparsers.add_parser(
        "match", help="play the policy against another GTP engine",
        description="Games against a GTP engine with alternating colours; each game is saved as SGF and "
                    "scored by the opponent's final_score (else Tromp-Taylor area scoring).")
    _add_player_args(match, required=True)
    match.add_argument("--opponent", required=True,
                       help='the opponent\'s command line, e.g. "gnugo --mode gtp --level 10"')
    match.add_argument("--games", type=common.positive_int, default=10)
    match.add_argument("--komi", type=float, default=7.5)
    match.add_argument("--max-moves", type=common.positive_int, default=500,
                       help="stop and score a game after this many moves (default: %(default)s)")
    match.add_argument("--out", default="runs/go_match", help="folder for the SGFs and match.json")
    match.add_argument("--parallel", type=common.positive_int, default=1,
                       help="games played at once, each against its own opponent process (default: 1)")
    match.add_argument("--resume", action="store_true",
                       help="continue the match in --out (same model and settings): play only the missing games")
    match.add_argument("--json", action="store_true", help="print the summary as one JSON line, last on stdout")
    match.set_defaults(func=_match)

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

    pack = subparsers.add_parser(
        "pack", help="write every prepared position's feature planes, bit-packed, for --input packed",
        description=common.doc("apps.go.packed"))
    pack.add_argument("--data", required=True, help="a folder written by `go prepare`")
    pack.add_argument("--workers", type=common.positive_int, default=os.cpu_count() or 1,
                      help="worker processes (default: every core, %(default)s)")
    pack.add_argument("--games-per-file", type=common.positive_int, default=500,
                      help="games per packed file: the unit of parallel work, resuming and of splitting "
                           "files between workers of a distributed run (default: %(default)s)")
    pack.add_argument("--exclude-games", nargs="+", metavar="PATTERN",
                      help="leave these games out, as `go train --exclude-games` (the same patterns)")
    pack.set_defaults(func=_pack)

    show = common.add_lazy_command(subparsers, "visualize", "apps.go.visualize:run",
                                   help="policy heat map, plane saliency, Grad-CAM, filters, "
                                        "activations, maximizing boards")
    _add_visualize_arguments(show)


def _add_visualize_arguments(parser):
    """The options of `run.py go visualize`."""
    parser.add_argument("--model", required=True, help="a Go policy model (.keras)")
    parser.add_argument("--out", required=True, help="folder for the PNGs")
    parser.add_argument("--sgf", help="an SGF game (default: a KGS game of the data, else examples/game.sgf)")
    parser.add_argument("--move", type=common.positive_int,
                        help="1-based number of the move to predict: the position before it (default: 60, "
                             "or after the last move of a shorter game)")
    parser.add_argument("--explain", metavar="VERTEX",
                        help="the move whose planes / Grad-CAM to show, e.g. Q16 (default: the move played, "
                             "else the policy's top move)")
    parser.add_argument("--policy", action="store_true", help="move probabilities over the board")
    parser.add_argument("--planes", action="store_true", help="which feature planes drive --explain (saliency)")
    parser.add_argument("--gradcam", action="store_true", help="Grad-CAM of --explain over the board")
    parser.add_argument("--filters", action="store_true", help="first-layer filters (first 8 planes each)")
    parser.add_argument("--activations", action="store_true", help="feature maps of --layer for the position")
    parser.add_argument("--layer", help="layer for --activations / --gradcam (default: first and last hidden conv's ReLU / "
                        "last hidden conv)")
    parser.add_argument("--maximize", metavar="LAYER:UNIT|class:N", action="append",
                        help="boards that maximize a filter, a hidden unit or a move (class:N, N = row * 19 + col; "
                             "repeatable)")
    parser.add_argument("--steps", type=common.positive_int, default=150, help="maximization steps")
    # the penalties are means over 19 x 19 x 48 inputs, the score a sum: weights of thousands balance them
    parser.add_argument("--l1", type=float, default=5000.0, help="L1 weight for --maximize (0: off)")
    parser.add_argument("--tv", type=float, default=1000.0, help="total-variation weight for --maximize (0: off)")
    parser.add_argument("--jitter", type=int, default=0, help="jitter in points for --maximize (0: off; "
                        "the board edge matters, so off by default)")
    parser.add_argument("--blur", type=float, default=0.0, help="blur sigma for --maximize (0: off)")
    common.add_data_dir(parser)


def _add_player_args(parser, required):
    parser.add_argument("--model", required=required, help="a .keras policy model saved by this app")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="0: always the most probable sensible move (default); >0: sample p^(1/T)")
    parser.add_argument("--seed", type=int, default=None, help="random seed for --temperature sampling")
    parser.add_argument("--ensemble", action="store_true",
                        help="choose from the mean policy of the 8 board symmetries (8 network runs a move)")
    from apps.go import RULES
    parser.add_argument("--rules", choices=RULES, default="chinese",
                        help="the scoring the player plays for: chinese (area, default) or japanese (territory: "
                             "it passes as soon as the opponent passes, as a stone in settled territory costs a "
                             "point). Give the opponent the same rules: GNU Go scores by japanese rules unless "
                             "started with --chinese-rules")


def _player(args):
    from apps.go.policy import PolicyPlayer
    from shared.modelio import load_model
    model, _ = load_model(args.model, app=APP)
    return PolicyPlayer(model, temperature=args.temperature, ensemble=args.ensemble, seed=args.seed,
                        rules=args.rules)


def _train(args):
    from apps.go.train import train
    return train(args)


def _evaluate(args):
    from apps.go.evaluate import TrainingGames, evaluate, positions_for, training_game_rule
    from shared import overlap
    from shared.evaluation import print_json_line
    from shared.modelio import load_model
    model, meta = load_model(args.model, app=APP)
    skipped, scored = [], []
    started = time.time()
    metrics = evaluate(model, positions_for(args.data, args.split, args.max_games, skipped, args.games, scored),
                       ensemble=args.ensemble, batch_size=args.batch_size)
    metrics.update(model=str(args.model), data=str(args.data), skipped_games=skipped,
                   seconds=round(time.time() - started, 1))
    rule = training_game_rule(meta.get("config", {}))
    metrics["overlap"] = overlap.warn(overlap.check("games", scored, rule and TrainingGames(rule),
                                                    "the model file does not record its training games"),
                                      args.model)
    for entry in skipped:
        print(f"skipped {entry['game']}: {entry['reason']}", file=sys.stderr)
    print(f"top-1 {metrics['top1']:.4f}  top-5 {metrics['top5']:.4f}  n={metrics['n']}"
          f"{'  (8-symmetry ensemble)' if args.ensemble else ''}")
    for bucket, entry in metrics["top1_by_move_number"].items():
        print(f"  moves {bucket:>8}: top-1 {entry['top1']:.4f}  n={entry['n']}")
    if args.json:
        print_json_line(metrics)
    return 0


def _predict(args):
    from apps.go.predict import predict
    from shared.evaluation import print_json_line
    from shared.modelio import load_model
    model, _ = load_model(args.model, app=APP)
    heatmap = args.heatmap or f"{Path(args.sgf).stem}-move{args.move}.png"
    result, board = predict(model, args.sgf, args.move, args.top, heatmap, args.ensemble)
    print(board)
    print(f"move {args.move}, {result['to_play']} to play; top {args.top}:")
    for rank, entry in enumerate(result["top"], start=1):
        print(f"  {rank}. {entry['move']:>4}  {entry['probability']:.4f}")
    if result["played"]:
        print(f"played: {result['played']} (probability {result['played_probability']:.4f}, "
              f"rank {result['played_rank']})"
              + (f"; the game's move is illegal here: {result['played_illegal']}" if result["played_illegal"] else ""))
    print(f"heatmap: {result['heatmap']}")
    if args.json:
        print_json_line(result)
    return 0


def _gtp(args):
    from apps.go.gtp_engine import GtpEngine
    chooser = None
    if args.model:
        from apps.go.policy import BackgroundPlayer, board_size_of_file
        # TensorFlow and the model load in a thread (seconds): the engine answers GUIs meanwhile
        chooser = BackgroundPlayer(lambda: _player(args), board_size_of_file(args.model), args.rules)
    # Bytes that are not UTF-8 become a bad command, answered with `?`, not a crash of the engine.
    commands = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    GtpEngine(move_chooser=chooser, superko=args.superko).run(commands, sys.stdout)


def _match(args):
    from apps.go.match import match
    from shared.evaluation import print_json_line
    player = _player(args)
    if "gnugo" in args.opponent.lower() and ("--chinese-rules" in args.opponent) != (args.rules == "chinese"):
        print(f"warning: the policy plays for {args.rules} rules but GNU Go scores by "
              f"{'chinese' if '--chinese-rules' in args.opponent else 'japanese'} rules "
              f"(it uses japanese unless started with --chinese-rules): match --rules to the opponent",
              file=sys.stderr)
    summary = match(player, args.opponent, args.games, args.out, size=player.size, komi=args.komi,
                    max_moves=args.max_moves, our_name=Path(args.model).name,
                    log=lambda line: print(line, flush=True), resume=args.resume,
                    about={"model": str(args.model), "temperature": args.temperature,
                           "ensemble": args.ensemble, "rules": args.rules}, parallel=args.parallel)
    low, high = summary["win_rate_95ci"]
    print(f"policy won {summary['wins']} of {summary['games']} against {summary['opponent_name']} "
          f"({100 * summary['win_rate']:.1f}%, 95% interval {100 * low:.1f}-{100 * high:.1f}%); "
          f"SGFs and match.json in {args.out}")
    if args.json:
        print_json_line(summary)
    return 0


def _pack(args):
    from apps.go import packed
    summary = packed.pack(args.data, args.workers, args.games_per_file, args.exclude_games)
    print(f"packed {summary['train_positions']:,} training and {summary['validation_positions']:,} validation "
          f"positions into {len(summary['files'])} file(s) in {Path(args.data) / packed.FOLDER}")
    return 0


def _prepare(args):
    from apps.go import prepare
    if not 0 <= args.val_fraction < 1:
        raise UserError(f"--val-fraction must be in [0, 1), not {args.val_fraction}")
    if args.workers < 1 or args.shard_games < 1:
        raise UserError("--workers and --shard-games must be at least 1")
    summary = prepare.prepare(prepare.resolve_sources(args.source, args.data_dir), args.out,
                              workers=args.workers, val_fraction=args.val_fraction, shard_games=args.shard_games)
    print(prepare.describe(summary))


def demo(out_dir, minutes, data_dir):
    """Prepare one KGS archive (June 2017, 910 games), train the default policy net for
    `minutes`, evaluate top-1/top-5 on its validation games, predict one position
    (heatmap), and return the report section; where that archive is not here, the
    shipped policy on the example game instead."""
    from apps.go import prepare
    from apps.go.evaluate import evaluate, positions_for
    from apps.go.predict import predict
    from apps.go.train import train
    from shared.modelio import load_model

    import datasets
    from apps.go.visualize import DEFAULT_ARCHIVE

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        archive = datasets.fetch_file("go-kgs", DEFAULT_ARCHIVE, data_dir)
    except UserError as missing:
        return _demo_without_data(out_dir, missing)
    records = out_dir / "records"
    summary = prepare.prepare([archive], records)
    # epochs of 100 steps (about 25 s here); a budget shorter than one takes as many steps as it affords
    steps = int(min(100, max(10, minutes * 60 * 4)))
    args = common.parse_command(register, [
        "train", "--data", records, "--steps-per-epoch", steps, "--val-positions", 1000, "--measure-positions", 1024,
        "--quiet", "--out", out_dir / "run", "--epochs", 1000, "--time-budget", minutes])
    started = time.time()
    train(args)
    train_minutes = (time.time() - started) / 60
    model, _ = load_model(out_dir / "run" / "model.keras", app=APP)
    metrics = evaluate(model, positions_for(records, "validation", max_games=20))
    run_metrics = json.loads((out_dir / "run" / "metrics.json").read_text())
    (out_dir / "metrics.json").write_text(json.dumps({"evaluate": metrics, "train": run_metrics}, indent=2))
    sgf_folder = out_dir / "example"
    sgf_folder.mkdir(exist_ok=True)
    records_reader = prepare.GameRecords(records, "validation")
    shard_number, index = records_reader._games[0]
    name = str(records_reader._shards[shard_number]["names"][index])
    data = dict(prepare.read_members(archive, [name]))[name]
    (sgf_folder / "game.sgf").write_bytes(data)
    result, board = predict(model, sgf_folder / "game.sgf", 60, 5, out_dir / "heatmap.png")
    gallery = _demo_gallery(out_dir / "run" / "model.keras", sgf_folder / "game.sgf", 60, out_dir / "viz")
    phases = "\n".join(f"| {bucket} | {entry['top1']:.3f} | {entry['n']} |"
                       for bucket, entry in metrics["top1_by_move_number"].items())
    top = ", ".join(f"{e['move']} {e['probability']:.3f}" for e in result["top"])
    return (f"## go: move prediction (policy network, no pooling)\n\n"
            f"The default policy net (6 layers x 64 filters) trained for {train_minutes:.1f} min on "
            f"{summary['train_positions']:,} positions of {summary['train_games']} KGS games (June 2017), "
            f"{run_metrics['positions_seen_total']:,} positions seen "
            f"(input pipeline {run_metrics['input_positions_per_s']:.0f} positions/s, training "
            f"{run_metrics['train_positions_per_s']} positions/s).\n\n"
            f"On {metrics['n']:,} positions of 20 validation games: top-1 **{metrics['top1']:.3f}**, "
            f"top-5 **{metrics['top5']:.3f}**.\n\n| moves | top-1 | n |\n|---|---|---|\n{phases}\n\n"
            f"Move 60 of validation game `{name}` ({result['to_play']} to play): top 5 {top}; "
            f"played {result['played']} (rank {result['played_rank']}).\n\n![policy heatmap](go/heatmap.png)\n\n"
            f"```\n{board}\n```\n\n{gallery}\n")


def _demo_without_data(out_dir, missing):
    """The demo section where the KGS archive is not here: the shipped policy at move 60 of the
    example game (top moves, heat map) and its standard pictures."""
    from apps.go.predict import predict
    from shared import examples
    from shared.modelio import load_model
    model_path, game = examples.shipped_model("go_policy.keras"), examples.path("game.sgf")
    model, _ = load_model(model_path, app=APP)
    result, board = predict(model, game, 60, 5, out_dir / "heatmap.png")
    top = ", ".join(f"{e['move']} {e['probability']:.3f}" for e in result["top"])
    gallery = _demo_gallery(model_path, game, 60, out_dir / "viz")
    return ("## go: move prediction (policy network, no pooling)\n\n"
            + examples.missing_data_note("go", missing, "go-kgs")
            + f"`models/go_policy.keras` at move 60 of `examples/game.sgf` ({result['to_play']} to play): top 5 {top}; "
            f"played {result['played']} (rank {result['played_rank']}).\n\n![policy heatmap](go/heatmap.png)\n\n"
            f"```\n{board}\n```\n\n{gallery}\n")


def _demo_gallery(model_path, sgf, move_number, viz_dir, link_prefix="go/viz/"):
    """The `visualize` standard set of the demo model at one position, as a Markdown gallery."""
    from apps.go import visualize
    from shared.visualize import gallery_markdown
    args = common.parse_command(register, ["visualize", "--model", model_path, "--out", viz_dir, "--sgf", sgf,
                                           "--move", move_number, "--steps", 100])
    visualize.run(args)
    return gallery_markdown(viz_dir, link_prefix, title="What the policy network looks at")
