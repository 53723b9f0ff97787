"""End-of-game scoring: which stones are dead, and the area count (GTP `final_score`, `final_status_list`).

The count is area scoring (Chinese rules, Tromp-Taylor style): a player's
score is their live stones plus the empty points whose region touches only
their stones, with dead stones taken off the board first (their points then
count for the side that surrounds them); white adds komi. Empty regions that
touch both colours (dame, the shared liberties of a seki) count for nobody.

Dead stones are judged by Monte-Carlo ownership: from the position, many
random games are played to the end by both sides (`playouts`), in which
neither side fills one of its own eyes (the eye rule of the sensibleness
feature plane), nor puts a group of two or more stones into atari (so a seki
stays a seki: its shared liberties are self-atari for whoever plays there,
while throw-ins of a single stone, which kill eyes, are still played).
Each point's ownership is the mean over the games of +1 (black stone or
black-only eye) / -1 (white). A group whose mean ownership (over its stones)
is on the opponent's side is dead. A live group with a liberty that stayed
empty and touched both colours at the end of most games is in seki.

The kernel is compiled with numba (cache=True); 19x19 x 256 games take about
a second or two on one core. The judgement is statistical and meant for
finished games (both players passed, borders closed): on those it agrees with
GNU Go's own judgement on most games (figures in apps/go/README.md); in open
positions with unsettled fights it is a guess, as is any static count.
"""
import numpy as np
from numba import njit

from apps.go.go import BLACK, EMPTY, WHITE, neighbour_table, region_owners

DEFAULT_PLAYOUTS = 256


def _tables(size):
    """(neighbours, diagonals) as int32 (size*size, 4) arrays padded with -1."""
    neighbours = np.full((size * size, 4), -1, np.int32)
    diagonals = np.full((size * size, 4), -1, np.int32)
    for index, near in enumerate(neighbour_table(size)):
        neighbours[index, :len(near)] = near
        row, col = divmod(index, size)
        corners = [(row + dr) * size + col + dc for dr in (-1, 1) for dc in (-1, 1)
                   if 0 <= row + dr < size and 0 <= col + dc < size]
        diagonals[index, :len(corners)] = corners
    return neighbours, diagonals


@njit(cache=True)
def _chain(board, neighbours, start, mark, stamp, stones):
    """Flood-fill the chain at `start`: (stone count, liberty count); stones listed in `stones`."""
    colour = board[start]
    mark[start] = stamp
    stones[0] = start
    n_stones, n_libs, i = 1, 0, 0
    while i < n_stones:
        s = stones[i]
        i += 1
        for k in range(4):
            n = neighbours[s, k]
            if n < 0:
                break
            if mark[n] == stamp:
                continue
            if board[n] == colour:
                mark[n] = stamp
                stones[n_stones] = n
                n_stones += 1
            elif board[n] == 0:
                mark[n] = stamp
                n_libs += 1
    return n_stones, n_libs


@njit(cache=True)
def _own_eye(board, neighbours, diagonals, m, colour):
    """An empty point all of whose neighbours are `colour`, not a false eye (features.py's rule)."""
    for k in range(4):
        n = neighbours[m, k]
        if n < 0:
            break
        if board[n] != colour:
            return False
    enemy = 3 - colour
    bad, on_edge = 0, False
    for k in range(4):
        d = diagonals[m, k]
        if d < 0:
            on_edge = True
            break
        if board[d] == enemy:
            bad += 1
    return bad < (1 if on_edge else 2)


@njit(cache=True)
def _try_move(board, trial, neighbours, m, colour, mark, stamps, stones):
    """Play `m` on `trial` (a copy of `board`) if the playout policy accepts it.

    Returns the new ko point (>= 0), -1 for an accepted move without ko, or -2
    for a rejected one (suicide, or a group of 2+ stones left in atari).
    """
    trial[:] = board
    trial[m] = colour
    enemy = 3 - colour
    captured, last_captured = 0, -1
    for k in range(4):
        n = neighbours[m, k]
        if n < 0:
            break
        if trial[n] == enemy:
            stamps[0] += 1
            n_stones, n_libs = _chain(trial, neighbours, n, mark, stamps[0], stones)
            if n_libs == 0:
                for i in range(n_stones):
                    trial[stones[i]] = 0
                captured += n_stones
                last_captured = stones[0]
    stamps[0] += 1
    n_stones, n_libs = _chain(trial, neighbours, m, mark, stamps[0], stones)
    if n_libs == 0 or (n_libs == 1 and n_stones >= 2):
        return -2
    board[:] = trial
    if captured == 1 and n_stones == 1 and n_libs == 1:
        return last_captured
    return -1


@njit(cache=True)
def _playouts(board0, to_play, ko0, neighbours, diagonals, games, seed, ownership, shared):
    """Play `games` random games to the end; add each end's ownership (+1 black, -1 white) and
    where an empty point touched both colours (`shared`)."""
    np.random.seed(seed)
    points = board0.size
    board = np.empty_like(board0)
    trial = np.empty_like(board0)
    empties = np.empty(points, np.int32)
    mark = np.zeros(points, np.int64)
    stones = np.empty(points, np.int32)
    stamps = np.zeros(1, np.int64)
    max_moves = 3 * points
    for _ in range(games):
        board[:] = board0
        colour, ko, passes, moves = to_play, ko0, 0, 0
        while passes < 2 and moves < max_moves:
            count = 0
            for p in range(points):
                if board[p] == 0:
                    empties[count] = p
                    count += 1
            played = False
            while count > 0:
                i = np.random.randint(count)
                m = empties[i]
                if m != ko and not _own_eye(board, neighbours, diagonals, m, colour):
                    result = _try_move(board, trial, neighbours, m, colour, mark, stamps, stones)
                    if result != -2:
                        ko = result
                        played = True
                        break
                empties[i] = empties[count - 1]
                count -= 1
            if played:
                passes = 0
            else:
                passes += 1
                ko = -1
            colour = 3 - colour
            moves += 1
        for p in range(points):
            if board[p] == 1:
                ownership[p] += 1.0
            elif board[p] == 2:
                ownership[p] -= 1.0
            else:
                black = white = False
                for k in range(4):
                    n = neighbours[p, k]
                    if n < 0:
                        break
                    black |= board[n] == 1
                    white |= board[n] == 2
                if black and not white:
                    ownership[p] += 1.0
                elif white and not black:
                    ownership[p] -= 1.0
                elif black and white:
                    shared[p] += 1.0


def ownership(position, playouts=DEFAULT_PLAYOUTS, seed=0):
    """(ownership, shared) flat float arrays: mean end-of-game owner of each point (+1 black,
    -1 white) over random playouts, and the share of playouts in which the point ended empty
    between both colours."""
    neighbours, diagonals = _tables(position.size)
    owner = np.zeros(position.size ** 2, np.float64)
    shared = np.zeros(position.size ** 2, np.float64)
    ko = -1 if position.ko is None else int(position.ko)
    _playouts(position.board.astype(np.int8), int(position.to_play), ko, neighbours, diagonals,
              int(playouts), int(seed), owner, shared)
    return owner / playouts, shared / playouts


class Judgement:
    """Each stone's status (`status`: flat array of "alive" / "dead" / "seki" / "" for empty
    points), the ownership behind it, and the area count."""

    def __init__(self, position, status, owner):
        self.position, self.status, self.ownership = position, status, owner

    def stones(self, status):
        """Flat indices of the stones with this status."""
        return [int(i) for i in np.flatnonzero(self.status == status)]

    def area(self):
        """(black points, white points) by area counting with the dead stones removed."""
        board = self.position.board.copy()
        board[self.status == "dead"] = EMPTY
        cleared = self.position.copy()
        cleared.board = board
        owners = region_owners(cleared)
        black = int(np.count_nonzero(board == BLACK) + np.count_nonzero(owners == BLACK))
        white = int(np.count_nonzero(board == WHITE) + np.count_nonzero(owners == WHITE))
        return black, white

    def score(self):
        """Black's margin: black area - white area - komi (positive: black wins)."""
        black, white = self.area()
        return black - white - self.position.komi

    def result(self):
        """The GTP `final_score` text: "B+3.5", "W+0.5" or "0" for a draw."""
        return format_result(self.score())


def format_result(margin):
    """GTP's result text as GNU Go writes it: "B+3.5", "W+5.0", "0" for a draw."""
    if margin == 0:
        return "0"
    return f"{'B' if margin > 0 else 'W'}+{abs(margin):.1f}"


def judge(position, playouts=DEFAULT_PLAYOUTS, seed=0):
    """Dead, alive and seki stones of `position`, by Monte-Carlo ownership (module docstring)."""
    owner, shared = ownership(position, playouts, seed)
    status = np.full(position.size ** 2, "", dtype=object)
    for colour, stones, liberties in position.groups():
        indices = [r * position.size + c for r, c in stones]
        sign = 1.0 if colour == BLACK else -1.0
        if sign * owner[indices].mean() < 0:
            label = "dead"
        elif any(shared[r * position.size + c] > 0.5 for r, c in liberties):
            label = "seki"
        else:
            label = "alive"
        status[indices] = label
    return Judgement(position, status, owner)
