"""SGF game records in, positions out.

`parse_sgf(data)` reads one game with sgfmill into a plain `GameRecord`
(board size, komi, handicap, setup stones, player to move after setup, main-line
moves, result). `replay(record)` plays it on the rules engine, yielding
`(position, move)` before each move, which is what a policy network learns
from. Anything that makes a game unusable raises `BadGame` with the reason, so
a data pipeline can skip the game and say why.
"""
import dataclasses
from pathlib import Path

from sgfmill import sgf

from apps.go.go import BLACK, WHITE, IllegalMove, Position
from shared.errors import UserError

_COLOURS = {"b": BLACK, "w": WHITE}


class BadGame(ValueError):
    """A game record that cannot be used; the message gives the reason."""


@dataclasses.dataclass
class GameRecord:
    size: int
    komi: float
    handicap: int
    setup_black: list      # [(row, col)], row 0 = bottom
    setup_white: list
    first_player: int      # BLACK or WHITE: who moves after the setup
    moves: list            # [(colour, (row, col) or None)]
    winner: int = 0        # BLACK, WHITE or 0 when unknown / draw


def parse_sgf(data):
    """A GameRecord from SGF bytes (the first game tree's main line).

    Raises BadGame for unparseable SGF, bad properties, or setup stones in
    the middle of the main line (which training positions cannot represent).
    """
    try:
        game = sgf.Sgf_game.from_bytes(data)
        size = game.get_size()
        root = game.get_root()
        komi = game.get_komi()
        handicap = game.get_handicap() or 0
        black, white, empty = root.get_setup_stones()
        if empty:
            raise BadGame("AE (remove stones) in the root node")
        first_player = _COLOURS[root.get("PL").lower()] if root.has_property("PL") else None
        nodes = game.get_main_sequence()
        moves = []
        for number, node in enumerate(nodes[1:], start=1):
            if node.has_setup_stones():
                raise BadGame(f"setup stones in node {number}")
            try:
                colour, point = node.get_move()
            except ValueError as error:  # sgfmill's message may be empty (e.g. a point off the board)
                raw = node.get_raw("B") if node.has_property("B") else node.get_raw("W")
                raise BadGame(f"move {number}: bad point {raw.decode('latin-1')!r} for a {size}x{size} "
                              f"board{f' ({error})' if str(error) else ''}") from None
            if colour is None:
                continue
            moves.append((_COLOURS[colour], point))
        winner = _winner(game.get_winner())
    except BadGame:
        raise
    except (ValueError, KeyError, IndexError) as error:
        raise BadGame(f"unparseable SGF: {error}") from None
    if first_player is None:
        if moves:
            first_player = moves[0][0]
        else:
            first_player = WHITE if black and not white and handicap >= 2 else BLACK
    return GameRecord(size, float(komi), int(handicap), sorted(black), sorted(white), first_player, moves, winner)


def _winner(colour):
    return _COLOURS.get(colour, 0) if colour else 0


def start_position(record, superko=False):
    """The position after the setup stones, before the first move."""
    position = Position(record.size, komi=record.komi, superko=superko)
    try:
        position.setup(record.setup_black, record.setup_white, to_play=record.first_player)
    except IllegalMove as error:
        raise BadGame(f"broken setup: {error}") from None
    position.handicap = record.handicap
    return position


def replay(record, superko=False):
    """Yield (position, move) before each main-line move; the position is live (copy it to keep it).

    Raises BadGame at the first illegal move, naming it.
    """
    position = start_position(record, superko=superko)
    for number, (colour, point) in enumerate(record.moves, start=1):
        if colour != position.to_play:
            # The record has the same colour move twice (or a PL change): the
            # mover is the player to move, and no ko ban carries over.
            position.to_play, position.ko = colour, None
        yield position, (colour, point)
        try:
            position.play(point, colour)
        except IllegalMove as error:
            raise BadGame(f"illegal move {number}: {error}") from None


def position_before(sgf_path, move_number):
    """(position, the move played there or None) before move `move_number` (1-based) of the main
    line of the SGF file `sgf_path`; UserError naming the file when it cannot get there."""
    path = Path(sgf_path)
    if not path.is_file():
        raise UserError(f"{path}: SGF file not found")
    try:
        record = parse_sgf(path.read_bytes())
        position = start_position(record)
    except BadGame as error:
        raise UserError(f"{path}: {error}") from None
    if record.size != 19:
        raise UserError(f"{path}: board size {record.size}; the policy network plays 19x19")
    total = len(record.moves)
    if not 1 <= move_number <= total + 1:
        raise UserError(f"{path}: --move {move_number} is past the end of the game "
                        f"(it has {total} moves; use 1..{total + 1})")
    for number, (colour, point) in enumerate(record.moves[:move_number - 1], start=1):
        if colour != position.to_play:
            position.to_play, position.ko = colour, None
        try:
            position.play(point, colour)
        except IllegalMove as error:
            raise UserError(f"{path}: illegal move {number}: {error}") from None
    played = record.moves[move_number - 1] if move_number <= total else None
    if played is not None and played[0] != position.to_play:
        position.to_play, position.ko = played[0], None
    return position, (played[1] if played else None)
