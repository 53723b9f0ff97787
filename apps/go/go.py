"""Go rules: board, position, legal moves, captures, ko.

A `Position` is a board plus everything the rules need to say which moves are
legal: whose turn it is, the simple-ko point, optionally the history of whole
boards for positional superko, and the prisoners taken. Groups (chains) and
their liberties are tracked incrementally by `_GroupTracker`, so playing a move
costs work proportional to the groups it touches, not to the board.

Coordinates follow sgfmill and GTP: a point is `(row, col)`, row 0 is the
bottom line (GTP row "1"), col 0 is the left line (GTP column "A"). A move is a
point or `None` for a pass. The flat index `row * size + col` is the move index
the policy network predicts (0..360 on 19x19); `size * size` stands for a pass.

Rules: suicide is illegal (as in Japanese and Chinese rules and GNU Go's
default), a move may not retake a single-stone ko at once (simple ko), and with
`superko=True` a move may not recreate any earlier whole-board position
(positional superko). Scoring is not the engine's business, but `region_owners`
(which colour alone borders each empty region, as Tromp-Taylor counts) is
here for the scorer and the policy player's endgame.
"""
import numpy as np

EMPTY, BLACK, WHITE = 0, 1, 2
COLOR_NAMES = {BLACK: "black", WHITE: "white"}

# Turn number given to setup stones: far enough in the past that "turns since"
# features see them as older than any bucket.
SETUP_TURN = -(1 << 30)


class IllegalMove(ValueError):
    """A move the rules forbid; the message says why."""


def opponent(color):
    return BLACK + WHITE - color


def neighbour_table(size):
    """For each flat point, the flat indices of its on-board orthogonal neighbours."""
    table = []
    for index in range(size * size):
        row, col = divmod(index, size)
        table.append(tuple(r * size + c for r, c in ((row - 1, col), (row + 1, col), (row, col - 1), (row, col + 1))
                           if 0 <= r < size and 0 <= c < size))
    return tuple(table)


_NEIGHBOURS = {}


def _neighbours(size):
    if size not in _NEIGHBOURS:
        _NEIGHBOURS[size] = neighbour_table(size)
    return _NEIGHBOURS[size]


_ZOBRIST = {}


def _zobrist(size):
    """Random 64-bit keys per (point, colour), fixed by a seed so hashes are reproducible."""
    if size not in _ZOBRIST:
        rng = np.random.default_rng(20160128 + size)
        _ZOBRIST[size] = [[0] * (size * size)] + [
            [int(k) for k in rng.integers(1, 1 << 63, size * size, dtype=np.int64)] for _ in (BLACK, WHITE)]
    return _ZOBRIST[size]


class _Group:
    __slots__ = ("color", "stones", "liberties")

    def __init__(self, color, stones, liberties):
        self.color = color
        self.stones = stones        # set of flat indices
        self.liberties = liberties  # set of flat indices


class _GroupTracker:
    """Which group each stone belongs to, and every group's stones and liberties.

    `group_of[i]` is the id of the group at flat point i (-1 when empty); ids
    are never reused within a tracker, so a stale id cannot alias a new group.
    """

    def __init__(self, size):
        self.size = size
        self.group_of = [-1] * (size * size)
        self.groups = {}
        self._next_id = 0

    def copy(self):
        other = _GroupTracker.__new__(_GroupTracker)
        other.size = self.size
        other.group_of = list(self.group_of)
        other.groups = {gid: _Group(g.color, set(g.stones), set(g.liberties)) for gid, g in self.groups.items()}
        other._next_id = self._next_id
        return other

    def _new_id(self):
        self._next_id += 1
        return self._next_id

    def add_stone(self, board, index, color):
        """Put a stone of `color` at empty `index` (board already updated).

        Merges it with its friendly neighbours, takes the liberty from enemy
        neighbours and removes the enemy groups left without liberties.
        Returns the list of captured flat indices.
        """
        neighbours = _neighbours(self.size)[index]
        liberties = {n for n in neighbours if board[n] == EMPTY}
        friendly, enemy = set(), set()
        for n in neighbours:
            gid = self.group_of[n]
            if gid >= 0:
                (friendly if self.groups[gid].color == color else enemy).add(gid)
        stones = {index}
        for gid in friendly:
            group = self.groups.pop(gid)
            stones |= group.stones
            liberties |= group.liberties
        liberties.discard(index)
        new_id = self._new_id()
        for s in stones:
            self.group_of[s] = new_id
        self.groups[new_id] = _Group(color, stones, liberties)

        captured = []
        for gid in enemy:
            group = self.groups[gid]
            group.liberties.discard(index)
            if not group.liberties:
                captured.extend(self._remove_group(board, gid))
        return captured

    def _remove_group(self, board, gid):
        group = self.groups.pop(gid)
        neighbours = _neighbours(self.size)
        for s in group.stones:
            board[s] = EMPTY
            self.group_of[s] = -1
        for s in group.stones:
            for n in neighbours[s]:
                other = self.group_of[n]
                if other >= 0:
                    self.groups[other].liberties.add(s)
        return list(group.stones)


class Position:
    """A Go position: board, player to move, ko, prisoners, and move history.

    Mutable: `play` changes it in place (fast replays of game records); use
    `copy()` to keep an earlier state (the GTP engine's undo does).
    """

    def __init__(self, size=19, komi=7.5, superko=False):
        if not 2 <= size <= 25:
            raise ValueError(f"board size must be 2..25, not {size}")
        self.size = size
        self.komi = float(komi)
        self.superko = superko
        self.board = np.zeros(size * size, dtype=np.int8)  # flat, EMPTY/BLACK/WHITE
        self.to_play = BLACK
        self.ko = None                 # flat index the player to move may not take, or None
        self.move_number = 0           # moves (including passes) played since setup
        self.placed_at = np.full(size * size, SETUP_TURN, dtype=np.int32)  # move number of each stone
        self.prisoners = {BLACK: 0, WHITE: 0}  # stones captured BY each colour
        self.handicap = 0
        self.last_moves = []           # (color, move) in order; move is (row, col) or None
        self._groups = _GroupTracker(size)
        self._hash = 0
        self._seen = {0} if superko else None

    # ----- construction and copying -------------------------------------------------

    def copy(self):
        other = Position.__new__(Position)
        other.__dict__.update(self.__dict__)
        other.board = self.board.copy()
        other.placed_at = self.placed_at.copy()
        other.prisoners = dict(self.prisoners)
        other.last_moves = list(self.last_moves)
        other._groups = self._groups.copy()
        other._seen = set(self._seen) if self._seen is not None else None
        return other

    def setup(self, black=(), white=(), empty=(), to_play=None):
        """Place (or remove) setup stones, as SGF AB/AW/AE do: no captures happen.

        Raises IllegalMove, leaving the position as it was, if the result has a
        group without liberties or a point is listed twice: such a board cannot
        be played from.
        """
        points = [self._index(p) for p in list(black) + list(white) + list(empty)]
        if len(set(points)) != len(points):
            raise IllegalMove("setup lists a point twice")
        saved = (self.board.copy(), self.placed_at.copy(), self._groups, self._hash)
        for point, color in [(p, BLACK) for p in black] + [(p, WHITE) for p in white] + [(p, EMPTY) for p in empty]:
            self.board[self._index(point)] = color
            self.placed_at[self._index(point)] = SETUP_TURN
        self._rebuild_groups()
        for group in self._groups.groups.values():
            if not group.liberties:
                row, col = divmod(min(group.stones), self.size)
                self.board, self.placed_at, self._groups, self._hash = saved
                raise IllegalMove(f"setup leaves a {COLOR_NAMES[group.color]} group at {(row, col)} without liberties")
        self.ko = None
        if to_play is not None:
            self.to_play = to_play
        if self._seen is not None:
            self._seen.add(self._hash)

    def _rebuild_groups(self):
        self._groups = _GroupTracker(self.size)
        board = self.board.copy()
        self.board[:] = EMPTY
        self._hash = 0
        zobrist = _zobrist(self.size)
        for index in np.flatnonzero(board).tolist():
            color = int(board[index])
            self.board[index] = color
            self._hash ^= zobrist[color][index]
            self._place_without_capture(index, color)

    def _place_without_capture(self, index, color):
        """Add a setup stone: merge groups and take liberties, never capture."""
        tracker = self._groups
        neighbours = _neighbours(self.size)[index]
        liberties = {n for n in neighbours if self.board[n] == EMPTY}
        stones = {index}
        for n in neighbours:
            gid = tracker.group_of[n]
            if gid < 0:
                continue
            group = tracker.groups.get(gid)
            if group is None:
                continue
            if group.color == color:
                tracker.groups.pop(gid)
                stones |= group.stones
                liberties |= group.liberties
            else:
                group.liberties.discard(index)
        liberties.discard(index)
        new_id = tracker._new_id()
        for s in stones:
            tracker.group_of[s] = new_id
        tracker.groups[new_id] = _Group(color, stones, liberties)

    # ----- queries --------------------------------------------------------------------

    def _index(self, point):
        row, col = point
        if not (0 <= row < self.size and 0 <= col < self.size):
            raise IllegalMove(f"point {point} is off the {self.size}x{self.size} board")
        return row * self.size + col

    def point(self, index):
        return divmod(index, self.size)

    def color_at(self, point):
        return int(self.board[self._index(point)])

    def grid(self):
        """The board as a (size, size) int8 array indexed [row, col] (row 0 = bottom)."""
        return self.board.reshape(self.size, self.size)

    def group_stones(self, point):
        """Sorted points of the group at `point` (empty list for an empty point)."""
        gid = self._groups.group_of[self._index(point)]
        if gid < 0:
            return []
        return sorted(self.point(s) for s in self._groups.groups[gid].stones)

    def liberties(self, point):
        """Sorted liberty points of the group at `point` (empty list for an empty point)."""
        gid = self._groups.group_of[self._index(point)]
        if gid < 0:
            return []
        return sorted(self.point(s) for s in self._groups.groups[gid].liberties)

    def groups(self):
        """(color, stones, liberties) for every group, as sorted point lists."""
        return [(g.color, sorted(self.point(s) for s in g.stones), sorted(self.point(s) for s in g.liberties))
                for g in self._groups.groups.values()]

    def zobrist_hash(self):
        return self._hash

    def is_legal(self, move, color=None):
        return self.why_illegal(move, color) is None

    def why_illegal(self, move, color=None):
        """None if `move` by `color` (default: player to move) is legal, else the reason."""
        if move is None:
            return None
        color = self.to_play if color is None else color
        row, col = move
        if not (0 <= row < self.size and 0 <= col < self.size):
            return "off the board"
        index = row * self.size + col
        if self.board[index] != EMPTY:
            return "point is occupied"
        if index == self.ko and color == self.to_play:
            return "retakes the ko"
        tracker = self._groups
        captures = set()
        has_liberty = False
        for n in _neighbours(self.size)[index]:
            if self.board[n] == EMPTY:
                has_liberty = True
                continue
            group = tracker.groups[tracker.group_of[n]]
            if group.color == color:
                if len(group.liberties) > 1:
                    has_liberty = True
            elif len(group.liberties) == 1:
                captures.add(tracker.group_of[n])
        if not captures and not has_liberty:
            return "suicide"
        if self._seen is not None and self._hash_after(index, color, captures) in self._seen:
            return "repeats an earlier position (superko)"
        return None

    def _hash_after(self, index, color, captured_group_ids):
        zobrist = _zobrist(self.size)
        h = self._hash ^ zobrist[color][index]
        for gid in captured_group_ids:
            group = self._groups.groups[gid]
            for s in group.stones:
                h ^= zobrist[group.color][s]
        return h

    # ----- moves ----------------------------------------------------------------------

    def play(self, move, color=None):
        """Play `move` ((row, col) or None for pass) for `color` (default: player to move).

        Raises IllegalMove. Afterwards the opponent of `color` is to move.
        Returns the list of captured points.
        """
        color = self.to_play if color is None else color
        reason = self.why_illegal(move, color)
        if reason is not None:
            raise IllegalMove(f"{COLOR_NAMES[color]} {format_vertex(move)}: {reason}")
        self.move_number += 1
        self.last_moves.append((color, move))
        self.to_play = opponent(color)
        if move is None:
            self.ko = None
            return []
        index = move[0] * self.size + move[1]
        zobrist = _zobrist(self.size)
        self.board[index] = color
        self.placed_at[index] = self.move_number
        self._hash ^= zobrist[color][index]
        captured = self._groups.add_stone(self.board, index, color)
        enemy = opponent(color)
        for s in captured:
            self._hash ^= zobrist[enemy][s]
        self.prisoners[color] += len(captured)
        # Simple ko: a single capture by a lone stone left with one liberty.
        group = self._groups.groups[self._groups.group_of[index]]
        if len(captured) == 1 and len(group.stones) == 1 and len(group.liberties) == 1:
            self.ko = captured[0]
        else:
            self.ko = None
        if self._seen is not None:
            self._seen.add(self._hash)
        return [self.point(s) for s in captured]

    def __str__(self):
        return to_ascii(self)


def region_owners(position):
    """Flat array: for each empty point, BLACK or WHITE when its empty region
    touches stones of that colour only, else EMPTY (dame, contested, or a board
    with no stones); EMPTY on stones. No life-and-death judgement."""
    board, neighbours = position.board, _neighbours(position.size)
    owners = np.zeros_like(board)
    seen = np.zeros(board.size, bool)
    for start in np.flatnonzero(board == EMPTY).tolist():
        if seen[start]:
            continue
        region, borders, stack = [], set(), [start]
        seen[start] = True
        while stack:
            index = stack.pop()
            region.append(index)
            for other in neighbours[index]:
                if board[other] == EMPTY:
                    if not seen[other]:
                        seen[other] = True
                        stack.append(other)
                else:
                    borders.add(int(board[other]))
        if len(borders) == 1:
            owners[region] = borders.pop()
    return owners


# ----- ASCII boards (tests, showboard) -----------------------------------------------

GTP_COLUMNS = "ABCDEFGHJKLMNOPQRSTUVWXYZ"  # GTP skips I


def format_vertex(point):
    """(row, col) -> GTP/board name such as "Q16" (row 0 is the bottom line); None -> "pass"."""
    if point is None:
        return "pass"
    row, col = point
    return f"{GTP_COLUMNS[col]}{row + 1}"


def to_ascii(position, marks=None):
    """Rows top (highest) first, with GTP coordinates; X = black, O = white; `marks`
    ({(row, col): character}) are drawn over those points."""
    size = position.size
    marks = marks or {}
    header = "   " + " ".join(GTP_COLUMNS[:size])
    lines = [header]
    for row in range(size - 1, -1, -1):
        cells = " ".join(marks.get((row, col), ".XO"[position.board[row * size + col]]) for col in range(size))
        lines.append(f"{row + 1:2d} {cells} {row + 1}")
    lines.append(header)
    return "\n".join(lines)


def from_ascii(text, to_play=BLACK, komi=7.5, superko=False, ko=None):
    """A position from rows of `X` (black), `O` (white) and `.` (empty), top row first.

    Whitespace between cells is ignored; the board is square. Stones count as
    setup stones (infinitely old for the "turns since" features).
    """
    rows = ["".join(ch for ch in line if ch in "XO.") for line in text.strip().splitlines()]
    rows = [r for r in rows if r]
    size = len(rows)
    if any(len(r) != size for r in rows):
        raise ValueError("ASCII board must be square")
    black, white = [], []
    for top_index, line in enumerate(rows):
        row = size - 1 - top_index
        for col, ch in enumerate(line):
            if ch == "X":
                black.append((row, col))
            elif ch == "O":
                white.append((row, col))
    position = Position(size, komi=komi, superko=superko)
    position.setup(black, white, to_play=to_play)
    if ko is not None:
        position.ko = position._index(ko)
    return position
