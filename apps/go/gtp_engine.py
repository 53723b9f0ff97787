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
`chooser(position, colour)` (optionally with a `time_budget` keyword: seconds
it may take, or None) returning a point (row, col), None to pass, or
"resign". The policy network provides one; the rules engine alone does not
choose moves.

For Go GUIs (Sabaki, Lizzie, GoGui, KGS clients) it also speaks:
- clocks: `time_settings`, `time_left`, `kgs-time_settings` (apps/go/clock.py
  says how much of the clock a move may use);
- scoring: `final_score`, `final_status_list alive|dead|seki` (area scoring,
  dead stones by Monte-Carlo ownership: apps/go/scoring.py);
- with a policy player (one with `analyzes`): Leela Zero's `lz-analyze` and
  `lz-genmove_analyze`, KataGo's `kata-analyze` (apps/go/analysis.py), and
  GoGui's `gogui-analyze_commands` with a policy heat map and an area map.

`lz-analyze` and `kata-analyze` stream: after the `=` line an `info` line
every interval (centiseconds; absent or 0: once) until the next input line
arrives, which ends the response with a blank line and is then answered.
`run` reads input in a thread for this; `handle` (scripted use) answers a
streaming command with its first `info` line, as if the next line came at once.
"""
import inspect
import queue
import sys
import threading
import time
from pathlib import Path

from apps.go.clock import GameClocks
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


def _takes_time_budget(chooser):
    """Whether `chooser` accepts the `time_budget` keyword."""
    try:
        return "time_budget" in inspect.signature(chooser).parameters
    except (TypeError, ValueError):
        return False


def _vertex_key(point):
    return -point[0], point[1]


class Lines:
    """A reply whose text starts on the line after `=` (lz-genmove_analyze's `info` and `play` lines)."""

    def __init__(self, text):
        self.text = text


class Stream:
    """A streaming reply: `line()` gives the next output line, every `interval` seconds (None:
    once) until input arrives."""

    def __init__(self, line, interval):
        self.line, self.interval = line, interval


class GtpEngine:
    """GTP state machine: `handle(line)` returns the full reply text (or None for blank lines)."""

    def __init__(self, move_chooser=None, name="Beyond Pixels Go", version="0.1", superko=False):
        self.move_chooser = move_chooser
        self.name, self.version = name, version
        self.superko = superko
        self.size, self.komi = 19, 7.5
        self.stopped = False
        self.clocks = GameClocks()
        # a chooser with a fixed board size (a policy network) refuses `boardsize` for other sizes
        self.chooser_size = getattr(move_chooser, "size", None)
        self._timed_chooser = move_chooser is not None and _takes_time_budget(move_chooser)
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
            "time_settings": self._time_settings,
            "kgs-time_settings": self._kgs_time_settings,
            "time_left": self._time_left,
            "final_score": self._final_score,
            "final_status_list": self._final_status_list,
            "gogui-analyze_commands": self._gogui_analyze_commands,
            "gogui-interrupt": lambda args: None,  # any input line ends a streaming reply anyway
            "bp-area": self._area_map,
        }
        if move_chooser is not None:
            self._commands["genmove"] = self._genmove
        if getattr(move_chooser, "analyzes", False):
            self._commands.update({
                "lz-analyze": lambda args: self._analyze(args, "lz"),
                "kata-analyze": lambda args: self._analyze(args, "kata"),
                "lz-genmove_analyze": self._genmove_analyze,
                "bp-policy_heatmap": self._policy_heatmap,
            })
        if hasattr(move_chooser, "rules"):  # KGS tells an engine the game's rules with this extension
            self._commands["kgs-rules"] = self._kgs_rules
        self._new_game()

    # ----- protocol ---------------------------------------------------------------------

    def handle(self, line):
        """The reply to one input line, including the trailing blank line."""
        reply = self._reply(line)
        if isinstance(reply, tuple):  # a stream: its first line, as if input came at once
            head, stream = reply
            return f"{head}{stream.line()}\n\n"
        return reply

    def _reply(self, line):
        """The reply text, None for a blank line, or (head, Stream) for a streaming command."""
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
        except (GtpError, UserError) as error:  # UserError: e.g. a model file that cannot load
            return f"?{command_id} {error}\n\n"
        if isinstance(result, Stream):
            return f"={command_id}\n", result
        if isinstance(result, Lines):
            return f"={command_id}\n{result.text}\n\n"
        result = "" if result is None else str(result)
        return f"={command_id} {result}".rstrip(" ") + "\n\n"

    def run(self, stdin=sys.stdin, stdout=sys.stdout):
        """Answer commands until `quit` or end of input; a streaming reply runs until the next
        input line (which is then answered) or the end of input."""
        lines, end = queue.Queue(), object()

        def read():
            for text in stdin:
                lines.put(text)
            lines.put(end)

        threading.Thread(target=read, name="gtp-input", daemon=True).start()
        line = lines.get()
        while line is not end:
            reply, line = self._reply(line), None
            if isinstance(reply, tuple):
                head, stream = reply
                stdout.write(head)
                while line is None:
                    stdout.write(stream.line() + "\n")
                    stdout.flush()
                    try:
                        line = lines.get(timeout=stream.interval)
                    except queue.Empty:
                        pass
                reply = "\n"  # the blank line that ends the reply
            if reply is not None:
                stdout.write(reply)
                stdout.flush()
            if self.stopped:
                break
            if line is None:
                line = lines.get()

    # ----- game state -------------------------------------------------------------------

    def _new_game(self):
        self.position = Position(self.size, komi=self.komi, superko=self.superko)
        self.history = []
        self.clocks.reset()
        self._judgement = None

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
        if self.chooser_size is not None and size != self.chooser_size:
            raise GtpError(f"unacceptable size (the policy network plays on "
                           f"{self.chooser_size}x{self.chooser_size} only)")
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
        if self.chooser_size is not None and record.size != self.chooser_size:
            raise GtpError(f"cannot load file: the game is {record.size}x{record.size}, the policy network "
                           f"plays on {self.chooser_size}x{self.chooser_size} only")
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
        return format_vertex(self._generate(parse_colour(args[0])))

    def _generate(self, colour):
        """Choose and play a move for `colour` within its clock; the move, None (pass) or "resign"."""
        clock = self.clocks[colour]
        started = time.perf_counter()
        before = self.position.copy()
        self.position.to_play = colour
        if self._timed_chooser:
            move = self.move_chooser(self.position.copy(), colour, time_budget=clock.budget())
        else:
            move = self.move_chooser(self.position.copy(), colour)
        if move == "resign":
            self.position = before
            return "resign"
        try:
            self.position.play(move, colour)
        except IllegalMove as error:
            self.position = before
            raise GtpError(f"move chooser picked an illegal move: {error}") from None
        self.history.append(before)
        clock.charge(time.perf_counter() - started)
        return move

    # ----- clocks -----------------------------------------------------------------------

    def _numbers(self, args, count, usage, kinds):
        self._require(args, count, usage)
        try:
            values = [kind(a) for kind, a in zip(kinds, args)]
        except ValueError:
            raise GtpError(f"syntax error (usage: {usage})") from None
        if any(v < 0 for v in values):
            raise GtpError(f"syntax error (negative value; usage: {usage})")
        return values

    def _time_settings(self, args):
        main, period, stones = self._numbers(args, 3, "time_settings <main time> <byo-yomi time> <byo-yomi stones>",
                                             (float, float, int))
        self.clocks.settings(main, period, stones)

    def _kgs_time_settings(self, args):
        usage = "kgs-time_settings none | absolute <main> | byoyomi <main> <period> <periods> | canadian <main> <period> <stones>"
        self._require(args, 1, usage)
        system = args[0].lower()
        needed = {"none": 0, "absolute": 1, "byoyomi": 3, "canadian": 3}
        if system not in needed:
            raise GtpError(f"syntax error (unknown time system {args[0]!r}; usage: {usage})")
        values = self._numbers(args[1:], needed[system], usage, (float, float, int))
        self.clocks.kgs(system, *values[:needed[system]])

    def _time_left(self, args):
        self._require(args, 3, "time_left <color> <time> <stones>")
        colour = parse_colour(args[0])
        seconds, stones = self._numbers(args[1:], 2, "time_left <color> <time> <stones>", (float, int))
        self.clocks[colour].left(seconds, stones)

    # ----- scoring ----------------------------------------------------------------------

    def _judge(self):
        """The scoring module's judgement of this position (kept until the position changes)."""
        from apps.go import scoring
        key = (self.position.zobrist_hash(), self.position.komi, self.position.to_play, self.position.size)
        if self._judgement is None or self._judgement[0] != key:
            self._judgement = key, scoring.judge(self.position)
        return self._judgement[1]

    def _final_score(self, args):
        return self._judge().result()

    def _final_status_list(self, args):
        self._require(args, 1, "final_status_list <alive|dead|seki>")
        status = args[0].lower()
        if status not in ("alive", "dead", "seki"):
            raise GtpError("syntax error (final_status_list takes alive, dead or seki)")
        marked = set(self._judge().stones(status))
        chains = [sorted(stones, key=_vertex_key) for _, stones, _ in self.position.groups()
                  if self.position._index(stones[0]) in marked]
        # one chain per line, chains in the order of their first stone (top row first), as GNU Go
        return "\n".join(" ".join(format_vertex(p) for p in chain)
                         for chain in sorted(chains, key=lambda c: _vertex_key(c[0])))

    def _area_map(self, args):
        """GoGui gfx: each side's area (BLACK / WHITE territory marks), dead stones marked, the score."""
        from apps.go.go import region_owners
        judgement = self._judge()
        board = self.position.board.copy()
        dead = judgement.status == "dead"
        cleared = self.position.copy()
        cleared.board = board
        board[dead] = 0
        owners = region_owners(cleared)
        black, white = judgement.area()
        lines = []
        for word, colour in (("BLACK", BLACK), ("WHITE", WHITE)):
            points = [self.position.point(int(i)) for i in range(len(board)) if owners[i] == colour]
            if points:
                lines.append(f"{word} {_sorted_vertices(points)}")
        if dead.any():
            lines.append(f"MARK {_sorted_vertices([self.position.point(int(i)) for i in judgement.stones('dead')])}")
        lines.append(f"TEXT area black {black}, white {white} + komi {self.position.komi:g}: {judgement.result()}")
        return "\n".join(lines)

    # ----- analysis (policy players) ----------------------------------------------------

    def _analysis_args(self, args):
        """(colour, interval seconds or None) from `[colour] [interval] [key value ...]`; the
        other keys of Leela Zero's and KataGo's commands (minmoves, ownership, ...) are accepted
        and not used."""
        rest, colour, interval = list(args), self.position.to_play, None
        if rest and rest[0].lower() in _COLOUR_WORDS:
            colour = parse_colour(rest.pop(0))
        if rest and rest[0].lower() == "interval":
            rest.pop(0)
        if rest and _is_number(rest[0]):
            centiseconds = int(rest.pop(0))
            interval = max(centiseconds, 1) / 100 if centiseconds > 0 else None
        return colour, interval

    def _candidates(self, colour):
        from apps.go import analysis
        return analysis.candidates(self.move_chooser, self.position, colour)

    def _analyze(self, args, kind):
        from apps.go import analysis
        colour, interval = self._analysis_args(args)
        text = (analysis.lz_line if kind == "lz" else analysis.kata_line)(self._candidates(colour))
        return Stream(lambda: text, interval)

    def _genmove_analyze(self, args):
        """Leela Zero's `lz-genmove_analyze <colour> [interval]`: the candidates' info line, then
        `play <move>` (the move genmove would play, and plays)."""
        from apps.go import analysis
        self._require(args, 1, "lz-genmove_analyze <color> [interval]")
        colour, _ = self._analysis_args(args)
        info = analysis.lz_line(self._candidates(colour))
        move = self._generate(colour)
        return Lines(f"{info}\nplay {'resign' if move == 'resign' else format_vertex(move)}".lstrip("\n"))

    def _policy_heatmap(self, args):
        from apps.go import analysis
        colour, _ = self._analysis_args(args)
        _, probs, sensible = self.move_chooser.probabilities(self.position, colour)
        return analysis.gogui_heatmap(probs, sensible, self.size, colour)

    def _gogui_analyze_commands(self, args):
        """GoGui's menu of analyze commands: type/label/command, one a line."""
        entries = []
        if "bp-policy_heatmap" in self._commands:
            entries.append("gfx/Policy heat map/bp-policy_heatmap %m")
        entries += ["gfx/Area count and dead stones/bp-area", "plist/Dead stones/final_status_list dead",
                    "plist/Seki stones/final_status_list seki", "string/Final score/final_score"]
        return "\n".join(entries)
