"""What a Go policy network looks at: move heat maps, feature-plane saliency, dreamed boards.

Works with any Keras model taking (19, 19, C) feature planes (C = 48 for the
AlphaGo features of `apps.go.features`) and giving 361 move probabilities,
indexed as in `apps.go.go` and the features: index = row * 19 + col, row 0 is
GTP row 1 (the bottom), so boards are drawn with row 0 at the bottom.

- `policy_heatmap_png`: the move probabilities over the board, with the stones.
- `plane_saliency` / `plane_saliency_png`: which feature planes drive a chosen
  move: |d logit(move) / d planes| summed over the board per plane, labelled
  with the names from `apps.go.features.FEATURES`, plus the board map of the
  strongest planes.
- `maximize_boards_png` / `maximize_filter_boards_png`: planes (continuous in
  [0, 1]) that maximize a move's logit, a hidden unit or a conv filter's degree
  of activation, by `shared.visualize.maximize`.
- `grad_cam_png`: Grad-CAM of a move at a conv layer, over the board.
- `run`: `run.py go visualize` (an SGF position, or by default
  a position of a KGS game of the data, else the example game in examples/), whose
  standard set is all of the above plus the first-layer filters and activation maps.

The drawing functions take arrays, so they are tested on a random model.
"""
from pathlib import Path

import numpy as np

from apps.go.board_plot import SIZE, board_figure, draw_board, move_name
from apps.go.features import FEATURES
from shared import examples as shared_examples, visualize as viz
from shared.plots import pyplot, save_figure


def plane_names(num_planes=None):
    """A label per input plane: `liberties 3`, `ones`, ... from FEATURES (then `plane N`)."""
    names = []
    for feature in FEATURES:
        names += [feature.name] if feature.planes == 1 else [f"{feature.name} {i + 1}" for i in range(feature.planes)]
    num_planes = num_planes or len(names)
    return (names + [f"plane {i}" for i in range(len(names), num_planes)])[:num_planes]


def _check(model):
    shape = tuple(model.input_shape[1:])
    if shape[:2] != (SIZE, SIZE) or model.output_shape[-1] != SIZE * SIZE:
        raise ValueError(f"expected a (19, 19, C) -> 361 policy model, got {shape} -> {model.output_shape[1:]}")


def move_probabilities(model, planes):
    """(19, 19) move probabilities for one position's planes (19, 19, C)."""
    from apps.go import policy
    _check(model)
    return policy.move_probabilities(model, np.asarray(planes)[None])[0].reshape(SIZE, SIZE)


def policy_heatmap_png(model, planes, path, title="policy", top=5, to_play="black"):
    """The board (stones from planes 0/1, the player to move in colour `to_play`) under
    the move probabilities; the title lists the `top` moves."""
    probs = move_probabilities(model, planes)
    best = np.argsort(probs.ravel())[::-1][:top]
    moves = ", ".join(f"{move_name(i)} {probs.ravel()[i]:.2f}" for i in best)
    return board_figure(probs, planes, path, f"{title}\n{moves}", mark=divmod(int(best[0]), SIZE), to_play=to_play)


def plane_saliency(model, planes, move):
    """(per-plane importance (C,), gradient (19, 19, C)) of the logit of `move`
    (index row * 19 + col) with respect to the input planes."""
    _check(model)
    grad, _ = viz.saliency(model, planes, class_index=int(move))
    return np.abs(grad).sum(axis=(0, 1)), grad


def plane_saliency_png(model, planes, move, path, top=12, to_play="black"):
    """A bar chart of the planes that drive `move`, and the board maps of the top 3."""
    importance, grad = plane_saliency(model, planes, move)
    names = plane_names(len(importance))
    order = np.argsort(importance)[::-1][:top]
    plt = pyplot()
    fig = plt.figure(figsize=(11, 4.2))
    bars = fig.add_subplot(1, 4, 1)
    bars.barh(range(len(order))[::-1], importance[order], color="tab:red")
    bars.set_yticks(range(len(order))[::-1])
    bars.set_yticklabels([names[i] for i in order], fontsize=7)
    bars.set_title(f"planes driving {move_name(move)}", fontsize=9)
    for slot, plane in enumerate(order[:3]):
        ax = fig.add_subplot(1, 4, slot + 2)
        ax.imshow(grad[..., plane], cmap="RdBu_r", vmin=-np.abs(grad).max(), vmax=np.abs(grad).max(),
                  origin="lower", extent=(-0.5, SIZE - 0.5, -0.5, SIZE - 0.5))
        draw_board(ax, planes, to_play)
        row, col = divmod(int(move), SIZE)
        ax.scatter([col], [row], s=120, facecolors="none", edgecolors="lime", linewidths=2, zorder=4)
        ax.set_title(f"d logit / d {names[plane]}", fontsize=8)
    return save_figure(fig, path)


def maximize_boards(model, targets, steps=150, regularizers=viz.Regularizers(l1=1.0, tv=0.5), seed=0):
    """[(planes (19, 19, C) in [0, 1], score history)] maximizing each `shared.visualize.Target`
    (a conv filter's degree of activation, a hidden unit, or a move's logit: `Target("class", move)`)."""
    results = []
    for target in targets:
        x, history = viz.maximize(model, target, steps=steps, regularizers=regularizers,
                                  preprocessing={"input_range": [0, 1]}, seed=seed)
        results.append((x[0], history))
    return results


def maximize_filter_boards(model, layer, filters, steps=150, regularizers=viz.Regularizers(l1=1.0, tv=0.5)):
    """{filter: (planes (19, 19, C) in [0, 1], score history)} maximizing each filter of `layer`."""
    targets = [viz.Target("filter", int(k), layer) for k in filters]
    return dict(zip([int(k) for k in filters], maximize_boards(model, targets, steps, regularizers)))


def maximize_boards_png(model, targets, path, steps=150, regularizers=viz.Regularizers(l1=1.0, tv=0.5),
                        planes_shown=("stone_colour 1", "stone_colour 2"), title=None):
    """For each target, the maximizing input's stone planes and its two strongest other planes as board maps."""
    results = maximize_boards(model, targets, steps, regularizers)
    names = plane_names(model.input_shape[-1])
    pictures, titles = [], []
    for target, (x, history) in zip(targets, results):
        label = f"move {move_name(target.index)}" if target.kind == "class" else f"f{target.index}"
        strength = x.sum(axis=(0, 1))
        fixed = [names.index(n) for n in planes_shown if n in names]
        strongest = [int(p) for p in np.argsort(strength)[::-1] if p not in fixed][:2]
        for plane in fixed + strongest:
            pictures.append(x[..., plane])
            titles.append(f"{label}: {names[plane]}")
        titles[-len(fixed) - len(strongest)] += f"\na {history[0]:.2g}->{history[-1]:.2g}"
    columns = len(pictures) // len(results)
    layers = sorted({t.layer for t in targets if t.layer})
    return viz.grid_png(pictures, path, titles=titles, ncols=columns, cmap="magma", shared_range=(0, 1),
                        origin="lower", suptitle=title or f"{', '.join(layers) or 'policy'}: boards that maximize "
                        f"each target (L1 {regularizers.l1}, TV {regularizers.tv}, jitter {regularizers.jitter}, "
                        f"blur {regularizers.blur})")


def maximize_filter_boards_png(model, layer, filters, path, steps=150, planes_shown=("stone_colour 1",
                                                                                      "stone_colour 2")):
    """For each filter of `layer`, the maximizing input's strongest planes (and the stone planes) as board maps."""
    return maximize_boards_png(model, [viz.Target("filter", int(k), layer) for k in filters], path, steps,
                               planes_shown=planes_shown, title=f"{layer}: boards that maximize each filter")


def grad_cam_png(model, planes, move, path, layer=None, to_play="black"):
    """Grad-CAM (Selvaraju et al.) of the logit of `move` at conv `layer` (default: the last
    hidden conv, the 1x1 output conv having a single map), drawn over the board."""
    _check(model)
    convs = viz.conv_layers(model)
    layer = layer or (convs[-2] if len(convs) > 1 and viz.get_layer(model, convs[-1]).output.shape[-1] == 1
                      else convs[-1])
    cam, _ = viz.grad_cam(model, planes, layer, class_index=int(move))
    return board_figure(cam, planes, path, f"Grad-CAM of {move_name(move)} at {layer}", cmap="inferno",
                        mark=divmod(int(move), SIZE), to_play=to_play)


# ---------------------------------------------------------------- positions

DEFAULT_ARCHIVE = "KGS-2017_06-19-910-.tar.gz"
DEFAULT_MOVE = 60


def position_planes(sgf_path, move_number):
    """(planes (19, 19, 48), index of the move played there or None, a caption, the
    colour to play) before move `move_number` (1-based) of an SGF game's main line."""
    from apps.go.features import features
    from apps.go.sgf_wrapper import position_before
    position, played = position_before(sgf_path, move_number)
    colour = "black" if position.to_play == 1 else "white"
    caption = f"{Path(sgf_path).name}, move {move_number}, {colour} to play"
    return (features(position).astype(np.float32), None if played is None else played[0] * SIZE + played[1],
            caption, colour)


def default_game(folder, data_dir=None, min_moves=DEFAULT_MOVE):
    """An SGF file in `folder`: the first game of at least `min_moves` moves in a KGS
    archive of the data (June 2017), else the example game kept in the repository
    (examples/game.sgf). Returns (path, move number)."""
    import datasets
    from apps.go import prepare
    from apps.go.sgf_wrapper import parse_sgf
    from shared.errors import UserError
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        archive = datasets.fetch_file("go-kgs", DEFAULT_ARCHIVE, data_dir)
        for name, data in prepare.read_members(archive, prepare.list_members(archive)[:50]):
            try:
                if parse_sgf(data).size == 19 and len(parse_sgf(data).moves) >= min_moves:
                    path = folder / Path(name).name
                    path.write_bytes(data)
                    return path, min_moves
            except Exception:  # a game the parser refuses: try the next one
                continue
    except (UserError, OSError) as error:
        print(f"no KGS game here ({error}); using the example game")
    return shared_examples.path("game.sgf"), min_moves


def _default_move(sgf_path):
    """Move 60, or the position after the last move of a shorter game."""
    from apps.go.sgf_wrapper import parse_sgf
    try:
        return min(DEFAULT_MOVE, len(parse_sgf(Path(sgf_path).read_bytes()).moves) + 1)
    except Exception:  # unreadable: position_before says what is wrong
        return DEFAULT_MOVE


# ---------------------------------------------------------------- `run.py go visualize`

def _explained_move(args, model, planes, played):
    from apps.go.gtp_engine import GtpError, parse_vertex
    from shared.errors import UserError
    if args.explain:
        try:
            point = parse_vertex(args.explain, SIZE)
        except GtpError:
            raise UserError(f"--explain {args.explain!r}: expected a vertex such as Q16") from None
        if point is None:
            raise UserError("--explain pass: the policy has no output for passing; name a point")
        return point[0] * SIZE + point[1]
    if played is not None:
        return played
    return int(np.argmax(move_probabilities(model, planes)))


def run(args):
    """Pictures of what a Go policy network learned, written as PNGs into --out:
    the policy heat map, the feature planes that drive a chosen move (saliency per
    plane), Grad-CAM, first-layer filters, activation maps, and boards that maximize
    a filter, a hidden unit or a move (L1 / total-variation / jitter / blur
    regularizers). With no choice, the standard set."""
    from shared.modelio import load_model
    model, _ = load_model(args.model, app="go")
    try:
        _check(model)
    except ValueError as error:
        from shared.errors import UserError
        raise UserError(f"{args.model}: {error}") from None
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sgf, move_number = (args.sgf, _default_move(args.sgf)) if args.sgf else default_game(out / "position",
                                                                                          args.data_dir)
    move_number = args.move or move_number
    planes, played, caption, to_play = position_planes(sgf, move_number)
    move = _explained_move(args, model, planes, played)
    regularizers = viz.Regularizers(l1=args.l1, tv=args.tv, jitter=args.jitter, blur=args.blur)
    chosen = any([args.policy, args.planes, args.gradcam, args.filters, args.activations, args.maximize])
    convs = viz.conv_layers(model)
    written = []
    if args.policy or not chosen:
        written.append(policy_heatmap_png(model, planes, out / "policy.png", title=caption, to_play=to_play))
    if args.planes or not chosen:
        written.append(plane_saliency_png(model, planes, move, out / f"planes_{move_name(move)}.png", to_play=to_play))
    if args.gradcam or not chosen:
        written.append(grad_cam_png(model, planes, move, out / f"gradcam_{move_name(move)}.png", args.layer,
                                    to_play=to_play))
    if args.filters or not chosen:
        written.append(viz.filter_grid_png(model, out / "filters.png", max_filters=8))
    if args.activations or not chosen:
        hidden = [convs[0], convs[-2] if len(convs) > 1 else convs[-1]]
        for layer in [args.layer] if args.layer else [viz.activation_after(model, name) for name in hidden]:
            written.append(viz.activation_maps_png(model, layer, planes, out / f"activations_{layer}.png",
                                                   max_maps=16, origin="lower"))
    if args.maximize:
        targets = [viz.parse_target(model, text) for text in args.maximize]
        written.append(maximize_boards_png(model, targets, out / "maximize.png", args.steps, regularizers))
    elif not chosen:
        # moves, not filters: a filter's score sums 361 points and saturates every plane at these weights
        others = [int(i) for i in np.argsort(move_probabilities(model, planes).ravel())[::-1] if i != move][:2]
        targets = [viz.Target("class", m) for m in [move] + others]
        written.append(maximize_boards_png(model, targets, out / "maximize_moves.png", args.steps, regularizers,
                                           title="boards that maximize the logit of a move"))
    print(f"{caption}; explained move {move_name(move)}" + (f" (played {move_name(played)})" if played is not None else ""))
    for path in written:
        print(f"wrote {path}")
    return 0
