"""`run.py go match`: the policy network against any GTP engine (GNU Go here).

Colours alternate game by game (our network is black in odd-numbered
games). The network plays with `PolicyPlayer` (no search); the opponent is a
subprocess spoken to in GTP. A game ends with two passes in a row, a
resignation, or the move cap. Finished games are scored by the opponent's
`final_score` when it has that command (GNU Go's scoring removes dead
stones), else by Tromp-Taylor area scoring of the final board (every stone
counts as alive). Every game is saved as SGF, and `match.json` after every
game, so a long match can stop and `--resume`. The summary gives our wins
with a Wilson 95% interval.
"""
import concurrent.futures
import hashlib
import json
import math
import queue
import subprocess
import threading
import time
from pathlib import Path

from sgfmill import sgf

from apps.go.go import BLACK, WHITE, IllegalMove, Position, opponent, region_owners
from apps.go.gtp_engine import format_vertex, parse_vertex
from shared.errors import UserError
from shared.programs import resolve_command
from shared.training import write_json


class GtpProcess:
    """A GTP engine in a subprocess; `ask(command)` returns the reply text or raises RuntimeError."""

    def __init__(self, command):
        try:
            self.process = subprocess.Popen(resolve_command(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        except (OSError, ValueError) as error:
            raise UserError(f"--opponent {command!r}: cannot start it ({error})") from None
        self.command = command
        try:
            self.ask("protocol_version")
        except RuntimeError as error:
            raise UserError(f"--opponent {command!r}: does not speak GTP ({error})") from None

    def ask(self, command):
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise RuntimeError(f"the engine exited before {command!r}") from None
        lines = []
        while True:
            line = self.process.stdout.readline()
            if line == "":
                raise RuntimeError(f"the engine exited while answering {command!r}")
            if line.strip() == "" and lines:
                break
            if line.strip():
                lines.append(line.rstrip("\n"))
        reply = "\n".join(lines)
        if reply.startswith("?"):
            raise RuntimeError(f"{command!r} refused: {reply[1:].strip()}")
        return reply[1:].strip()

    def knows(self, command):
        return self.ask(f"known_command {command}") == "true"

    def close(self):
        try:
            self.ask("quit")
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def area_score(position):
    """Tromp-Taylor area score, black minus white minus komi: stones plus empty
    regions that touch only one colour. No dead-stone removal."""
    board, owners = position.board, region_owners(position)
    black = int((board == BLACK).sum()) + int((owners == BLACK).sum())
    white = int((board == WHITE).sum()) + int((owners == WHITE).sum())
    return black - white - position.komi


def parse_score(text):
    """GTP final_score text ("B+3.5", "W+R", "0") -> black's margin (+inf/-inf for resignations)."""
    text = text.strip().upper()
    if text in ("0", "DRAW", "JIGO"):
        return 0.0
    if len(text) < 3 or text[0] not in "BW" or text[1] != "+":
        raise ValueError(f"cannot read score {text!r}")
    value = math.inf if text[2:] in ("R", "RESIGN") else float(text[2:])
    return value if text[0] == "B" else -value


def wilson_interval(wins, games):
    """95% Wilson score interval for a win rate (scipy's binomial test)."""
    if games == 0:
        return 0.0, 1.0
    from scipy.stats import binomtest
    interval = binomtest(wins, games).proportion_ci(confidence_level=0.95, method="wilson")
    return float(interval.low), float(interval.high)


def play_game(player, engine, our_colour, size=19, komi=7.5, max_moves=500):
    """One game; returns a dict with the moves, who won, the score and how the game ended."""
    engine.ask(f"boardsize {size}")
    engine.ask("clear_board")
    engine.ask(f"komi {komi}")
    position = Position(size, komi=komi)
    moves, passes, ended, resigned = [], 0, "move cap", None
    colour = BLACK
    while len(moves) < max_moves:
        if colour == our_colour:
            move = player(position, colour)
            engine.ask(f"play {'b' if colour == BLACK else 'w'} {format_vertex(move)}")
        else:
            reply = engine.ask(f"genmove {'b' if colour == BLACK else 'w'}").lower()
            if reply == "resign":
                ended, resigned = "resignation", colour
                break
            move = parse_vertex(reply, size)
        try:
            position.play(move, colour)
        except IllegalMove as error:
            raise RuntimeError(f"move {len(moves) + 1} is illegal on our board: {error}") from None
        moves.append((colour, move))
        passes = passes + 1 if move is None else 0
        colour = opponent(colour)
        if passes == 2:
            ended = "two passes"
            break
    if resigned is not None:
        margin, score_text, scorer = (math.inf if resigned == WHITE else -math.inf), \
            f"{'B' if resigned == WHITE else 'W'}+R", "resignation"
    elif engine.knows("final_score"):
        score_text, scorer = engine.ask("final_score"), "opponent final_score"
        margin = parse_score(score_text)
    else:
        margin, scorer = area_score(position), "Tromp-Taylor area"
        score_text = "0" if margin == 0 else f"{'B' if margin > 0 else 'W'}+{abs(margin):g}"
    winner = BLACK if margin > 0 else WHITE if margin < 0 else 0
    return {"moves": moves, "winner": winner, "black_margin": margin, "result": score_text, "ended": ended,
            "scorer": scorer, "our_colour": our_colour, "we_won": winner == our_colour, "size": size, "komi": komi}


def save_sgf(game, path, our_name, their_name):
    record = sgf.Sgf_game(game["size"])
    root = record.get_root()
    root.set("KM", game["komi"])
    black, white = (our_name, their_name) if game["our_colour"] == BLACK else (their_name, our_name)
    root.set("PB", black)
    root.set("PW", white)
    root.set("RE", game["result"] if game["result"] != "0" else "0")
    root.set("GC", f"ended by {game['ended']}; scored by {game['scorer']}")
    for colour, move in game["moves"]:
        record.extend_main_sequence().set_move("b" if colour == BLACK else "w", move)
    Path(path).write_bytes(record.serialise())


def moves_digest(moves):
    """A short fingerprint of a game's move sequence, to spot games played twice move for move."""
    text = ";".join(f"{colour}{move}" for colour, move in moves)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def summarize(results, settings):
    """The match summary: settings, our wins with a Wilson 95% interval (overall and by our colour),
    how many games were distinct move for move (two deterministic players can repeat a game), and
    every game's result."""
    wins = sum(r["we_won"] for r in results)
    low, high = wilson_interval(wins, len(results))
    by_colour = {f"wins_as_{colour}": f"{sum(r['we_won'] for r in results if r['our_colour'] == colour)} of "
                                      f"{sum(r['our_colour'] == colour for r in results)}"
                 for colour in ("black", "white")}
    digests = [r["moves_digest"] for r in results if "moves_digest" in r]
    return {**settings, "games": len(results), "wins": wins, "losses": len(results) - wins,
            "win_rate": wins / max(1, len(results)), "win_rate_95ci": [round(low, 4), round(high, 4)],
            **by_colour, "distinct_games": len(set(digests)) if len(digests) == len(results) else None,
            "results": results}


def _previous_results(path, settings):
    """The games already played by an interrupted match with the same settings."""
    if not path.exists():
        raise UserError(f"{path.parent}: no match.json to resume; run without --resume")
    previous = json.loads(path.read_text())
    for key, value in settings.items():
        if previous.get(key) != value:
            raise UserError(f"{path}: was played with {key} {previous.get(key)!r}, not {value!r}; "
                            f"use another --out or the same settings")
    return previous["results"]


def match(player, opponent_command, games, out_dir, size=19, komi=7.5, max_moves=500, our_name="policy",
          log=print, resume=False, about=None, parallel=1):
    """Play `games` games with alternating colours; returns the summary dict.

    `<out_dir>/match.json` is rewritten after every game, so an interrupted
    match loses nothing; `resume=True` plays only the games still missing.
    `about` (e.g. the model path) is stored in the summary and must match on resume.
    `parallel` games are played at once, each against its own opponent process
    (the opponent's thinking dominates a game's time; our network's moves are
    computed one at a time).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary_path = out_dir / "match.json"
    settings = {"opponent": opponent_command, "size": size, "komi": komi, "max_moves": max_moves, **(about or {})}
    results = {r["game"]: r for r in _previous_results(summary_path, settings)} if resume else {}
    if resume and results:
        log(f"resuming with {len(results)} games played ({sum(r['we_won'] for r in results.values())} won so far)")
    to_play = queue.SimpleQueue()
    for number in range(1, games + 1):
        if number not in results:
            to_play.put(number)
    player_lock, results_lock, stop = threading.Lock(), threading.Lock(), threading.Event()

    def locked_player(position, colour):
        with player_lock:
            return player(position, colour)

    def play_games(engine):
        while not stop.is_set():
            try:
                number = to_play.get_nowait()
            except queue.Empty:
                return
            our_colour = BLACK if number % 2 == 1 else WHITE
            started = time.time()
            game = play_game(locked_player, engine, our_colour, size, komi, max_moves)
            path = out_dir / f"game{number:03d}.sgf"
            save_sgf(game, path, our_name, settings["opponent_name"])
            with results_lock:
                results[number] = {k: v for k, v in game.items() if k != "moves"} | {
                    "game": number, "sgf": str(path), "length": len(game["moves"]),
                    "moves_digest": moves_digest(game["moves"]),
                    "seconds": round(time.time() - started, 1),
                    "our_colour": "black" if our_colour == BLACK else "white",
                    "winner": {BLACK: "black", WHITE: "white", 0: "draw"}[game["winner"]],
                    "black_margin": game["black_margin"] if math.isfinite(game["black_margin"])
                    else str(game["black_margin"])}
                write_json(summary_path, summarize(_in_order(results), settings))
                log(f"game {number}: policy {results[number]['our_colour']}, {game['result']} "
                    f"({'win' if game['we_won'] else 'loss'}; {len(game['moves'])} moves, {game['ended']})")

    count, engines = max(1, min(parallel, to_play.qsize())), []
    pool = concurrent.futures.ThreadPoolExecutor(count)
    try:
        for _ in range(count):
            engines.append(GtpProcess(opponent_command))
        settings["opponent_name"] = engines[0].ask("name") if engines[0].knows("name") else opponent_command
        workers = [pool.submit(play_games, engine) for engine in engines]
        done, _ = concurrent.futures.wait(workers, return_when=concurrent.futures.FIRST_EXCEPTION)
        for worker in [*done, *workers]:
            worker.result()  # a failed worker's error first, as soon as it happens
    except BaseException:  # an error or Ctrl-C: end the games in progress at once
        stop.set()
        for engine in engines:
            engine.process.kill()
        raise
    finally:
        pool.shutdown(wait=True)
        for engine in engines:
            engine.close()
    summary = summarize(_in_order(results), settings)
    write_json(summary_path, summary)
    return summary


def _in_order(results):
    return [results[number] for number in sorted(results)]
