"""A Go Text Protocol (version 2) engine over the rules engine.

Speaks the GTP 2 core commands (protocol_version, name, version,
known_command, list_commands, quit, boardsize, clear_board, komi, play, undo,
showboard), handicap setup (fixed_handicap, set_free_handicap), loadsgf, KGS's
kgs-rules (when the move chooser plays by rules), and
GNU Go's analysis commands with GNU Go's reply formats (is_legal, countlib,
findlib, list_stones, captures), so other tools and GNU Go itself can check it.

Replies are `=[id] result` or `?[id] message` followed by a blank line. A bad
command, colour, vertex or illegal move gets a `?` reply and the engine keeps
going; only `quit` or end of input stop it.

`genmove` exists only when a move chooser is plugged in: a callable
`chooser(position, colour)` returning a point (row, col), None to pass, or
"resign". The policy network provides one; the rules engine alone does not
choose moves.
"""
import sys
from pathlib import Path

from apps.go.go import BLACK, GTP_COLUMNS, WHITE, IllegalMove, Position, format_vertex, to_ascii
from apps.go.sgf_wrapper import BadGame, parse_sgf, start_position
from shared.errors import UserError

_COLOUR_WORDS = {"b": BLACK, "black": BLACK, "w": WHITE, "white": WHITE}


def _is_number(text):
    """ASCII digits only: str.isdigit() also accepts '²', which int() refuses."""
    return text.isascii() and text.isdigit()


class GtpError(Exception):
    """A command that fails; the message becomes the `?` reply."""


def parse_vertex(text, size):
    """(row, col), or None for "pass"; GtpError for anything else."""
    word = text.lower()
    if word == "pass":
        return None
    letter, digits = word[:1].upper(), word[1:]
    if not letter or letter not in GTP_COLUMNS or not _is_number(digits):
        raise GtpError("invalid coordinate")
    col, row = GTP_COLUMNS.index(letter), int(digits) - 1
    if not (0 <= col < size and 0 <= row < size):
        raise GtpError("invalid coordinate")
    return row, col


def parse_colour(text):
    try:
        return _COLOUR_WORDS[text.lower()]
    except KeyError:
        raise GtpError("invalid color") from None


def fixed_handicap_points(size, stones):
    """Handicap points as GTP 2 section 4.1.1 (and GNU Go) place them."""
    if size < 7:
        raise GtpError("invalid handicap")
    most = 9 if size % 2 == 1 and size > 7 else 4
    if not 2 <= stones <= most:
        raise GtpError("invalid handicap")
    low = 3 if size >= 13 else 2
    high, mid = size - 1 - low, size // 2
    points = [(low, low), (high, high), (high, low), (low, high)][:min(stones, 4)]
    if stones >= 6:
        points += [(mid, low), (mid, high)]
    if stones >= 8:
        points += [(low, mid), (high, mid)]
    if stones in (5, 7, 9):
        points.append((mid, mid))
    return points


def _sorted_vertices(points):
    """Top row first, then left to right, as GNU Go lists them."""
    return " ".join(format_vertex(p) for p in sorted(points, key=lambda p: (-p[0], p[1])))


class GtpEngine:
    """GTP state machine: `handle(line)` returns the full reply text (or None for blank lines)."""

    def __init__(self, move_chooser=None, name="Beyond Pixels Go", version="0.1", superko=False):
        self.move_chooser = move_chooser
        self.name, self.version = name, version
        self.superko = superko
        self.size, self.komi = 19, 7.5
        self.stopped = False
        self._commands = {
            "protocol_version": lambda args: "2",
            "name": lambda args: self.name,
            "version": lambda args: self.version,
            "known_command": self._known_command,
            "list_commands": lambda args: "\n".join(sorted(self._commands)),
            "quit": self._quit,
            "boardsize": self._boardsize,
            "clear_board": self._clear_board,
            "komi": self._komi,
            "play": self._play,
            "undo": self._undo,
            "showboard": self._showboard,
            "fixed_handicap": self._fixed_handicap,
            "set_free_handicap": self._set_free_handicap,
            "loadsgf": self._loadsgf,
            "is_legal": self._is_legal,
            "countlib": self._countlib,
            "findlib": self._findlib,
            "list_stones": self._list_stones,
            "captures": self._captures,
        }
        if move_chooser is not None:
            self._commands["genmove"] = self._genmove
        if hasattr(move_chooser, "rules"):  # KGS tells an engine the game's rules with this extension
            self._commands["kgs-rules"] = self._kgs_rules
        self._new_game()

    # ----- protocol ---------------------------------------------------------------------

    def handle(self, line):
        """The reply to one input line, including the trailing blank line."""
        line = "".join(ch for ch in line if ch in "\t\n" or ch >= " " and ch != "\x7f")
        line = line.split("#", 1)[0].replace("\t", " ").strip()
        if not line:
            return None
        words = line.split()
        command_id = ""
        if _is_number(words[0]):
            command_id = words.pop(0)
        if not words:
            return f"?{command_id} syntax error\n\n"
        command, args = words[0].lower(), words[1:]
        handler = self._commands.get(command)
        if handler is None:
            return f"?{command_id} unknown command\n\n"
        try:
            result = handler(args)
        except (GtpError, UserError) as error:  # UserError: e.g. a 19x19 network asked to play 9x9
            return f"?{command_id} {error}\n\n"
        result = "" if result is None else str(result)
        return f"={command_id} {result}".rstrip(" ") + "\n\n"

    def run(self, stdin=sys.stdin, stdout=sys.stdout):
        """Answer commands until `quit` or end of input."""
        for line in stdin:
            reply = self.handle(line)
            if reply is None:
                continue
            stdout.write(reply)
            stdout.flush()
            if self.stopped:
                break

    # ----- game state -------------------------------------------------------------------

    def _new_game(self):
        self.position = Position(self.size, komi=self.komi, superko=self.superko)
        self.history = []

    def _point(self, text):
        point = parse_vertex(text, self.size)
        if point is None:
            raise GtpError("invalid coordinate")
        return point

    def _require(self, args, count, usage):
        if len(args) < count:
            raise GtpError(f"syntax error (usage: {usage})")

    # ----- commands ---------------------------------------------------------------------

    def _known_command(self, args):
        self._require(args, 1, "known_command <name>")
        return "true" if args[0].lower() in self._commands else "false"

    def _quit(self, args):
        self.stopped = True

    def _kgs_rules(self, args):
        """KGS's `kgs-rules japanese|chinese|aga|new_zealand`: territory scoring for japanese, area otherwise."""
        self._require(args, 1, "kgs-rules <japanese|chinese|aga|new_zealand>")
        rules = args[0].lower()
        if rules not in ("japanese", "chinese", "aga", "new_zealand"):
            raise GtpError(f"unknown rules {args[0]!r}")
        self.move_chooser.rules = "japanese" if rules == "japanese" else "chinese"

    def _boardsize(self, args):
        self._require(args, 1, "boardsize <size>")
        if not _is_number(args[0]):
            raise GtpError("syntax error (boardsize needs an integer)")
        size = int(args[0])
        if not 2 <= size <= 25:
            raise GtpError("unacceptable size")
        self.size = size
        self._new_game()

    def _clear_board(self, args):
        self._new_game()

    def _komi(self, args):
        self._require(args, 1, "komi <float>")
        try:
            self.komi = float(args[0])
        except ValueError:
            raise GtpError("komi not a float") from None
        self.position.komi = self.komi

    def _play(self, args):
        self._require(args, 2, "play <color> <vertex>")
        colour = parse_colour(args[0])
        move = parse_vertex(args[1], self.size)
        before = self.position.copy()
        try:
            self.position.play(move, colour)
        except IllegalMove:
            raise GtpError("illegal move") from None
        self.history.append(before)

    def _undo(self, args):
        if not self.history:
            raise GtpError("cannot undo")
        self.position = self.history.pop()

    def _showboard(self, args):
        prisoners = self.position.prisoners
        return (f"\n{to_ascii(self.position)}\n"
                f"black has captured {prisoners[BLACK]} stones, white has captured {prisoners[WHITE]} stones; "
                f"{'black' if self.position.to_play == BLACK else 'white'} to play")

    def _require_empty_board(self):
        if self.position.board.any():
            raise GtpError("board not empty")

    def _place_handicap(self, points):
        self.position.setup(black=points, to_play=WHITE)
        self.position.handicap = len(points)
        self.history = []

    def _fixed_handicap(self, args):
        self._require(args, 1, "fixed_handicap <number>")
        if not _is_number(args[0]):
            raise GtpError("invalid handicap")
        self._require_empty_board()
        points = fixed_handicap_points(self.size, int(args[0]))
        self._place_handicap(points)
        return _sorted_vertices(points)

    def _set_free_handicap(self, args):
        self._require_empty_board()
        points = [parse_vertex(a, self.size) for a in args]
        if len(points) < 2 or None in points or len(set(points)) != len(points) \
                or len(points) >= self.size * self.size:
            raise GtpError("bad vertex list")
        self._place_handicap(points)

    def _loadsgf(self, args):
        self._require(args, 1, "loadsgf <file> [move_number]")
        limit = None
        if len(args) > 1:
            if not _is_number(args[1]):
                raise GtpError("syntax error (move number must be an integer)")
            limit = max(int(args[1]) - 1, 0)  # play the moves before that move number
        try:
            record = parse_sgf(Path(args[0]).read_bytes())
            position = start_position(record, superko=self.superko)
            history = []
            for colour, move in record.moves[:limit]:
                history.append(position.copy())
                position.play(move, colour)
        except OSError:
            raise GtpError("cannot load file") from None
        except (BadGame, IllegalMove) as error:
            raise GtpError(f"cannot load file: {error}") from None
        self.size, self.komi = record.size, record.komi
        self.position, self.history = position, history
        return "black" if position.to_play == BLACK else "white"

    def _is_legal(self, args):
        self._require(args, 2, "is_legal <color> <vertex>")
        colour = parse_colour(args[0])
        move = parse_vertex(args[1], self.size)
        return "1" if self.position.is_legal(move, colour) else "0"

    def _stone(self, args, usage):
        self._require(args, 1, usage)
        point = self._point(args[0])
        if self.position.color_at(point) == 0:
            raise GtpError("vertex must not be empty")
        return point

    def _countlib(self, args):
        return str(len(self.position.liberties(self._stone(args, "countlib <vertex>"))))

    def _findlib(self, args):
        return _sorted_vertices(self.position.liberties(self._stone(args, "findlib <vertex>")))

    def _list_stones(self, args):
        self._require(args, 1, "list_stones <color>")
        colour = parse_colour(args[0])
        grid = self.position.board
        return _sorted_vertices([self.position.point(i) for i in range(self.size * self.size) if grid[i] == colour])

    def _captures(self, args):
        self._require(args, 1, "captures <color>")
        return str(self.position.prisoners[parse_colour(args[0])])

    def _genmove(self, args):
        self._require(args, 1, "genmove <color>")
        colour = parse_colour(args[0])
        before = self.position.copy()
        self.position.to_play = colour
        move = self.move_chooser(self.position.copy(), colour)
        if move == "resign":
            self.position = before
            return "resign"
        try:
            self.position.play(move, colour)
        except IllegalMove as error:
            raise GtpError(f"move chooser picked an illegal move: {error}") from None
        self.history.append(before)
        return format_vertex(move)
