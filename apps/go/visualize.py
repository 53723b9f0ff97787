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
- `maximize_filter_boards_png`: planes (continuous in [0, 1]) that maximize
  a conv filter's degree of activation, by `shared.visualize.maximize`.

Wire it into `run.py go visualize` with `planes_for(...)` from the featurizer;
the functions themselves take arrays, so they are tested on a random model.
"""

import numpy as np

from apps.go.features import FEATURES
from shared import visualize as viz
from shared.plots import pyplot, save_figure

SIZE = 19


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
    _check(model)
    return np.asarray(model(np.asarray(planes, np.float32)[None], training=False))[0].reshape(SIZE, SIZE)


def _draw_board(ax, planes):
    """Grid lines, star points and the stones (planes 0/1: player / opponent)."""
    for i in range(SIZE):
        ax.plot([0, SIZE - 1], [i, i], color="0.3", lw=0.5, zorder=1)
        ax.plot([i, i], [0, SIZE - 1], color="0.3", lw=0.5, zorder=1)
    stars = [3, 9, 15]
    ax.scatter([c for c in stars for _ in stars], [r for _ in stars for r in stars], s=6, c="0.3", zorder=1)
    if planes is not None and planes.shape[-1] >= 2:
        for plane, colour in ((0, "black"), (1, "white")):
            rows, cols = np.nonzero(planes[..., plane] > 0.5)
            ax.scatter(cols, rows, s=70, c=colour, edgecolors="black", linewidths=0.6, zorder=3)
    ax.set_xlim(-0.6, SIZE - 0.4)
    ax.set_ylim(-0.6, SIZE - 0.4)  # row 0 = GTP row 1 at the bottom
    ax.set_xticks(range(SIZE))
    ax.set_xticklabels([c for c in "ABCDEFGHJKLMNOPQRST"], fontsize=6)
    ax.set_yticks(range(SIZE))
    ax.set_yticklabels([str(r + 1) for r in range(SIZE)], fontsize=6)


def _board_figure(heat, planes, path, title, cmap="Reds", mark=None):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    ax.imshow(heat, cmap=cmap, origin="lower", extent=(-0.5, SIZE - 0.5, -0.5, SIZE - 0.5), zorder=0)
    _draw_board(ax, planes)
    if mark is not None:
        ax.scatter([mark[1]], [mark[0]], s=160, facecolors="none", edgecolors="blue", linewidths=2, zorder=4)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def policy_heatmap_png(model, planes, path, title="policy", top=5):
    """The board (stones from planes 0/1, player to move = black discs) under the
    move probabilities; the title lists the `top` moves."""
    probs = move_probabilities(model, planes)
    best = np.argsort(probs.ravel())[::-1][:top]
    moves = ", ".join(f"{_name(i)} {probs.ravel()[i]:.2f}" for i in best)
    return _board_figure(probs, planes, path, f"{title}: {moves}", mark=divmod(int(best[0]), SIZE))


def _name(index):
    row, col = divmod(int(index), SIZE)
    return f"{'ABCDEFGHJKLMNOPQRST'[col]}{row + 1}"


def plane_saliency(model, planes, move):
    """(per-plane importance (C,), gradient (19, 19, C)) of the logit of `move`
    (index row * 19 + col) with respect to the input planes."""
    _check(model)
    grad, _ = viz.saliency(model, planes, class_index=int(move))
    return np.abs(grad).sum(axis=(0, 1)), grad


def plane_saliency_png(model, planes, move, path, top=12):
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
    bars.set_title(f"planes driving {_name(move)}", fontsize=9)
    for slot, plane in enumerate(order[:3]):
        ax = fig.add_subplot(1, 4, slot + 2)
        ax.imshow(grad[..., plane], cmap="RdBu_r", vmin=-np.abs(grad).max(), vmax=np.abs(grad).max(),
                  origin="lower", extent=(-0.5, SIZE - 0.5, -0.5, SIZE - 0.5))
        _draw_board(ax, planes)
        row, col = divmod(int(move), SIZE)
        ax.scatter([col], [row], s=120, facecolors="none", edgecolors="lime", linewidths=2, zorder=4)
        ax.set_title(f"d logit / d {names[plane]}", fontsize=8)
    return save_figure(fig, path)


def maximize_filter_boards(model, layer, filters, steps=150, regularizers=viz.Regularizers(l1=1.0, tv=0.5)):
    """{filter: (planes (19, 19, C) in [0, 1], score history)} maximizing each filter of `layer`."""
    results = {}
    for k in filters:
        x, history = viz.maximize(model, viz.Target("filter", int(k), layer), steps=steps,
                                  regularizers=regularizers, preprocessing={"input_range": [0, 1]})
        results[int(k)] = (x[0], history)
    return results


def maximize_filter_boards_png(model, layer, filters, path, steps=150, planes_shown=("stone_colour 1",
                                                                                      "stone_colour 2")):
    """For each filter, the maximizing input's strongest planes (and the stone planes) as board maps."""
    results = maximize_filter_boards(model, layer, filters, steps)
    names = plane_names(model.input_shape[-1])
    pictures, titles = [], []
    for k, (x, history) in results.items():
        strength = x.sum(axis=(0, 1))
        fixed = [names.index(n) for n in planes_shown if n in names]
        strongest = [int(p) for p in np.argsort(strength)[::-1] if p not in fixed][:2]
        for plane in fixed + strongest:
            pictures.append(x[..., plane])
            titles.append(f"f{k}: {names[plane]}")
        titles[-len(fixed) - len(strongest)] += f"\na {history[0]:.2g}->{history[-1]:.2g}"
    columns = len(pictures) // len(results)
    return viz.grid_png(pictures, path, titles=titles, ncols=columns, cmap="magma", shared_range=(0, 1), origin="lower",
                        suptitle=f"{layer}: boards that maximize each filter")
