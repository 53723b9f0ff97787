"""The Go tab of `run.py serve`: play against the policy network on a board you click.

After each move the board shows the policy's move probabilities for the player to move (the
heat under the stones, its top 5 numbered), the top 5 with their probabilities, and the feature
planes that drove the policy's own last move (`apps.go.visualize.plane_saliency_png`). The
policy answers as `run.py go gtp` does (`apps.go.policy.PolicyPlayer`: the most probable sensible
move, no search), optionally as the 8-symmetry ensemble. A game can start from any move of an
SGF file. The rules are `apps.go.go`'s: an occupied point, a suicide or a ko retake is refused
with the reason.

The game is a `Game` value kept in the page's gr.State; the functions below change copies of it
and draw it without Gradio, so the tests call them directly.
"""
import dataclasses
from pathlib import Path

import numpy as np

from apps.go import APP
from apps.go.board_plot import SIZE, draw_board
from apps.go.go import BLACK, COLOR_NAMES, WHITE, format_vertex, opponent
from shared.errors import UserError

TITLE = "Go"
MODEL = "go_policy.keras"
TOP = 5

# The board picture's geometry, fixed so that a clicked pixel maps back to a point.
PIXELS = 600                      # the picture is PIXELS x PIXELS
_DPI = 100
_AXES = (0.07, 0.07, 0.9, 0.9)    # left, bottom, width, height of the board in figure fractions
_LIMITS = (-0.6, SIZE - 0.4)      # the data range draw_board sets on both axes
_STONE = 300                      # marker area (points^2): a stone nearly fills its point at this size
_WOOD = "#dcb35c"


@dataclasses.dataclass
class Game:
    """A game against the policy: the position, the human's colour, the positions before each of
    the human's moves (for undo), what to explain of the policy's last move, and what happened."""
    position: object
    human: int = BLACK
    earlier: list = dataclasses.field(default_factory=list)
    explained: tuple = None  # (planes before the policy's last move, its index, its colour name)
    note: str = ""
    over: bool = False

    def copy(self):
        return dataclasses.replace(self, position=self.position.copy(), earlier=list(self.earlier))


def colour_name(colour):
    return COLOR_NAMES[colour]


def parse_colour(text):
    if text not in ("black", "white"):
        raise UserError(f"colour {text!r}: choose black or white")
    return BLACK if text == "black" else WHITE


def new_game(player, human="black", position=None):
    """A game from the empty board (or `position`) with the human playing `human`; when the
    policy is to move first, it has played."""
    from apps.go.go import Position
    game = Game(Position(SIZE) if position is None else position.copy(), parse_colour(human))
    game.note = f"You play {human}."
    if game.position.to_play != game.human:
        _reply(game, player)
    return game


def click_point(x, y, width=PIXELS, height=PIXELS):
    """The point (row, col) under pixel (x, y) of the board picture (x across, y down from the
    top-left corner), or None off the board's points."""
    left, bottom, across, up = _AXES
    span = _LIMITS[1] - _LIMITS[0]
    data_x = _LIMITS[0] + ((x + 0.5) / width - left) / across * span
    data_y = _LIMITS[0] + (1 - (y + 0.5) / height - bottom) / up * span
    col, row = int(round(data_x)), int(round(data_y))
    if not (0 <= row < SIZE and 0 <= col < SIZE):
        return None
    return row, col


def point_pixel(point, width=PIXELS, height=PIXELS):
    """The pixel (x, y) at the centre of `point` (row, col) in the board picture: `click_point`'s inverse."""
    left, bottom, across, up = _AXES
    span = _LIMITS[1] - _LIMITS[0]
    row, col = point
    x = (left + (col - _LIMITS[0]) / span * across) * width
    y = (1 - bottom - (row - _LIMITS[0]) / span * up) * height
    return x, y


def play(game, player, point):
    """The game after the human plays `point` ((row, col), or None to pass) and the policy
    answers; UserError (the game unchanged) for an illegal move or a game that is over."""
    if game.over:
        raise UserError("the game is over (both passed): start a new game, undo, or load an SGF")
    if point is not None:
        reason = game.position.why_illegal(point, game.human)
        if reason is not None:
            raise UserError(f"{format_vertex(point)} is illegal for {colour_name(game.human)}: {reason}")
    game = game.copy()
    game.earlier.append(game.position.copy())
    captured = game.position.play(point, game.human)
    you = f"You ({colour_name(game.human)}) {'passed' if point is None else 'played ' + format_vertex(point)}"
    game.note = you + (f", capturing {len(captured)}" if captured else "") + "."
    _reply(game, player)
    return game


def _reply(game, player):
    """The policy's move for the player to move, played on `game` (changed in place)."""
    from apps.go.features import features
    position = game.position
    colour = position.to_play
    planes = features(position).astype(np.float32)
    move = player.choose(position, colour)
    human_passed = bool(position.last_moves) and position.last_moves[-1] == (opponent(colour), None)
    captured = position.play(move, colour)
    who = f"The policy ({colour_name(colour)})"
    if move is None:
        game.explained = None
        game.note += f" {who} passed."
        if human_passed:
            from apps.go.match import area_score
            score = area_score(position)
            result = "a draw" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"
            game.over = True
            game.note += (f" Both passed: game over, {result} by area (Tromp-Taylor, komi {position.komi:g}, "
                          f"no dead stones removed).")
        return
    game.explained = (planes, move[0] * SIZE + move[1], colour_name(colour))
    game.note += f" {who} answered {format_vertex(move)}" + (f", capturing {len(captured)}" if captured else "") + "."


def undo(game):
    """The game before the human's last move (and the policy's answer to it)."""
    if not game.earlier:
        raise UserError("nothing to undo: no move of yours in this game yet")
    game = game.copy()
    game.position = game.earlier.pop()
    game.explained, game.over = None, False
    game.note = "Took back your last move."
    return game


def sgf_moves(path):
    """The number of main-line moves of an SGF file; UserError naming the file when it is unusable."""
    from apps.go.sgf_wrapper import BadGame, parse_sgf
    path = Path(path)
    try:
        record = parse_sgf(path.read_bytes())
    except OSError as error:
        raise UserError(f"{path.name}: cannot read it ({error.strerror or error})") from None
    except BadGame as error:
        raise UserError(f"{path.name}: {error}") from None
    if record.size != SIZE:
        raise UserError(f"{path.name}: board size {record.size}; the policy network plays {SIZE}x{SIZE}")
    return len(record.moves)


def from_sgf(path, move_number, player):
    """A game from the position before move `move_number` (1-based) of an SGF file, the human
    playing the colour to move there."""
    from apps.go.sgf_wrapper import position_before
    sgf_moves(path)  # the file's own problems first, named by the file
    position, _ = position_before(path, int(move_number))
    game = new_game(player, colour_name(position.to_play), position)
    game.note = f"{Path(path).name}, before move {int(move_number)}: you play {colour_name(game.human)}."
    return game


def policy_view(game, model, ensemble=False):
    """(move probabilities (361,) for the player to move, their planes (19, 19, 48))."""
    from apps.go.features import features
    from apps.go.policy import move_probabilities
    planes = features(game.position).astype(np.float32)
    return move_probabilities(model, planes[None], ensemble)[0], planes


def top_moves(probabilities, k=TOP):
    """{vertex: probability} of the `k` most probable moves (what gr.Label shows)."""
    from apps.go.predict import top_moves as ranked
    return {format_vertex(point): p for point, p in ranked(probabilities, k)}


def board_picture(game, probabilities, planes):
    """The board as an RGB array (PIXELS x PIXELS): the move probabilities under the stones, the
    top moves numbered, the last move dotted; `click_point` maps its pixels back to points."""
    from matplotlib import patheffects

    from shared.plots import pyplot
    from shared.serve import PLOT_LOCK
    to_play = colour_name(game.position.to_play)
    with PLOT_LOCK:
        plt = pyplot()
        fig = plt.figure(figsize=(PIXELS / _DPI, PIXELS / _DPI), dpi=_DPI, facecolor=_WOOD)
        ax = fig.add_axes(_AXES)
        # red whose opacity is the probability (relative to the top move): the wood shows where the policy sees nothing
        heat = np.zeros((SIZE, SIZE, 4))
        strongest = max(float(probabilities.max()), 1e-9)
        heat[..., 0], heat[..., 3] = 0.85, 0.9 * probabilities.reshape(SIZE, SIZE) / strongest
        ax.imshow(heat, origin="lower", extent=(-0.5, SIZE - 0.5, -0.5, SIZE - 0.5), zorder=0)
        ax.set_facecolor(_WOOD)
        draw_board(ax, planes, to_play, stone_size=_STONE)
        outline = [patheffects.withStroke(linewidth=2.5, foreground="black")]
        for rank, index in enumerate(np.argsort(-probabilities)[:TOP]):
            row, col = divmod(int(index), SIZE)
            if game.position.board[index] == 0:
                ax.text(col, row, str(rank + 1), ha="center", va="center", fontsize=11, weight="bold",
                        color="white", path_effects=outline, zorder=5)
        moves = [move for _, move in game.position.last_moves if move is not None]
        if game.position.last_moves and game.position.last_moves[-1][1] is not None:
            row, col = moves[-1]
            ax.scatter([col], [row], s=40, c="red", zorder=6)
        ax.set_xlim(*_LIMITS)
        ax.set_ylim(*_LIMITS)
        ax.tick_params(length=0, pad=2)
        fig.canvas.draw()
        picture = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        plt.close(fig)
    return picture


def planes_picture(game, model):
    """The feature planes that drove the policy's last move (bar chart and the top 3 as board
    maps), as an RGB array; None when the policy has not moved in this game."""
    if game.explained is None:
        return None
    from apps.go.visualize import plane_saliency_png
    from shared.serve import figure_picture
    planes, move, colour = game.explained
    return figure_picture(lambda path: plane_saliency_png(model, planes, move, path, to_play=colour))


def status(game):
    """The message under the board: what happened, whose turn, the captures."""
    if game.over:
        return game.note
    position = game.position
    return (f"{game.note} Your move ({colour_name(game.human)}): click a point. "
            f"Captured: by black {position.prisoners[BLACK]}, by white {position.prisoners[WHITE]}.")


# ---------------------------------------------------------------- the panel

def panel(models_dir):
    """The Go tab: the board to click, colour, ensemble, pass, undo, new game, an SGF to start from."""
    import gradio as gr

    from apps.go.policy import PolicyPlayer
    from shared import serve

    path = Path(models_dir) / MODEL
    if not path.is_file():
        gr.Markdown(serve.missing_models_note(models_dir, [MODEL], "python run.py go train"), elem_id="go-message")
        return

    def player(ensemble):
        model, _ = serve.cached_model(path, APP)
        return PolicyPlayer(model, ensemble=bool(ensemble))

    def show(game, ensemble):
        model, _ = serve.cached_model(path, APP)
        probabilities, planes = policy_view(game, model, bool(ensemble))
        return (game, board_picture(game, probabilities, planes), top_moves(probabilities),
                planes_picture(game, model), status(game))

    with gr.Row():
        with gr.Column(scale=3):
            gr.Markdown("Click a point to play. Under the stones: the policy's move probabilities for the player "
                        "to move, its top 5 numbered; the red dot marks the last move.")
            board = gr.Image(show_label=False, interactive=False, elem_id="go-board", buttons=[], height=PIXELS,
                             width=PIXELS)
        with gr.Column(scale=2):
            message = gr.Markdown("Loading the policy...", elem_id="go-message")
            top = gr.Label(num_top_classes=TOP, label="The policy's top 5 moves for the player to move",
                           elem_id="go-top")
            with gr.Row():
                colour = gr.Radio(["black", "white"], value="black", label="You play", elem_id="go-colour")
                ensemble = gr.Checkbox(False, label="8-symmetry ensemble", elem_id="go-ensemble")
            with gr.Row():
                pass_button = gr.Button("Pass", elem_id="go-pass")
                undo_button = gr.Button("Undo", elem_id="go-undo")
                new_button = gr.Button("New game", elem_id="go-new")
            sgf = gr.File(label="Start from an SGF game", file_types=[".sgf"], type="filepath", elem_id="go-sgf")
            move = gr.Slider(1, 2, value=1, step=1, label="before move N of it", elem_id="go-move")
    planes = gr.Image(label="Feature planes that drove the policy's last move (|d logit / d plane|)",
                      interactive=False, elem_id="go-planes")
    state = gr.State()
    outputs = [state, board, top, planes, message]

    def start(human, ensemble):
        return show(new_game(player(ensemble), human), ensemble)

    def clicked(game, ensemble, event: gr.SelectData):
        x, y = event.index
        point = click_point(x, y)
        if point is None:
            raise UserError("that is off the board's points: click on a point of the grid")
        return show(play(game or new_game(player(ensemble)), player(ensemble), point), ensemble)

    def passed(game, ensemble):
        return show(play(game, player(ensemble), None), ensemble)

    def took_back(game, ensemble):
        return show(undo(game), ensemble)

    def loaded(file, move_number, ensemble):
        if not file:
            raise UserError("no SGF file given")
        moves = sgf_moves(file)
        number = min(max(1, int(move_number)), moves + 1)
        game = from_sgf(file, number, player(ensemble))
        return show(game, ensemble)[:-1] + (gr.update(maximum=moves + 1, value=number), status(game))

    wrap = serve.report_errors
    serve.page().load(wrap(start, 5), [colour, ensemble], outputs)  # the opening board with its heat map
    board.select(wrap(clicked, 5), [state, ensemble], outputs)
    pass_button.click(wrap(passed, 5), [state, ensemble], outputs)
    undo_button.click(wrap(took_back, 5), [state, ensemble], outputs)
    new_button.click(wrap(start, 5), [colour, ensemble], outputs)
    colour.change(wrap(start, 5), [colour, ensemble], outputs)
    ensemble.change(wrap(lambda game, ensemble: show(game, ensemble), 5), [state, ensemble], outputs)
    sgf.upload(wrap(loaded, 6), [sgf, move, ensemble], outputs[:-1] + [move, message])
    move.release(wrap(loaded, 6), [sgf, move, ensemble], outputs[:-1] + [move, message])
