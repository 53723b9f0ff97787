"""Shared helpers for the Go tests: a GNU Go GTP client, random legal games and
folders of them prepared for training.

Imported explicitly by the test modules (it is not a pytest conftest), so it
adds nothing to other apps' tests.
"""
import os
import random
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from apps.go.go import BLACK, WHITE, Position  # noqa: E402
from shared.programs import find_program  # noqa: E402
from tests.conftest import needs_program, requires  # noqa: E402

GNUGO = find_program("gnugo")
needs_gnugo = needs_program("gnugo", "apt-get install gnugo")

DATA = Path(os.environ.get("BEYOND_PIXELS_DATA", REPO.parent / "shared" / "data"))
KGS_DIR = DATA / "go" / "kgs"
needs_kgs = requires(not KGS_DIR.is_dir(), f"KGS archives not found under {KGS_DIR}")

COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"


def vertex(point):
    row, col = point
    return f"{COLUMNS[col]}{row + 1}"


def parse_vertex(text):
    return int(text[1:]) - 1, COLUMNS.index(text[0].upper())


class GnuGo:
    """A GNU Go process in GTP mode; `ask` sends one command and returns the reply text."""

    def __init__(self, size):
        self.process = subprocess.Popen([GNUGO, "--mode", "gtp", "--level", "0"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1)
        self.ask(f"boardsize {size}")
        self.ask("clear_board")

    def ask(self, command):
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        lines = []
        while True:
            line = self.process.stdout.readline()
            if line in ("\n", ""):
                break
            lines.append(line.rstrip("\n"))
        reply = "\n".join(lines)
        if reply.startswith("?"):
            raise RuntimeError(f"GNU Go refused {command!r}: {reply}")
        return reply[1:].strip()

    def close(self):
        try:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        self.process.wait(timeout=10)


def random_game(size, moves, seed):
    """Positions (copies) along a random legal game, with the move played from each."""
    rng = random.Random(seed)
    position = Position(size, komi=0.5)
    history = []
    for _ in range(moves):
        empties = [position.point(i) for i in range(size * size) if position.board[i] == 0]
        rng.shuffle(empties)
        move = next((p for p in empties if position.is_legal(p)), None)
        history.append((position.copy(), move))
        position.play(move)
    history.append((position.copy(), None))
    return history


def random_sgf(seed, moves=40):
    """SGF bytes of a random legal 19x19 game (komi 6.5)."""
    from sgfmill import sgf
    game = sgf.Sgf_game(19)
    game.get_root().set("KM", 6.5)
    for position, move in random_game(19, moves, seed)[:-1]:
        game.extend_main_sequence().set_move("b" if position.to_play == BLACK else "w", move)
    return game.serialise()


def prepared_random_games(root, seeds, moves=40, val_fraction=0.3):
    """`root/sgf/` of one random game per seed, prepared into `root/records/`; returns
    (records folder, prepare's summary)."""
    from apps.go import prepare
    (root / "sgf").mkdir()
    for seed in seeds:
        (root / "sgf" / f"g{seed:02d}.sgf").write_bytes(random_sgf(seed, moves))
    return root / "records", prepare.prepare([root / "sgf"], root / "records", val_fraction=val_fraction)
