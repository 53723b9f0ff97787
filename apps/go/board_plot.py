"""A Go board drawn with matplotlib: grid, star points, stones, and a map of
values (move probabilities, saliency, Grad-CAM) under it.

Indexing as in `apps.go.go` and the features: index = row * 19 + col, row 0
is GTP row 1 (the bottom), so boards are drawn with row 0 at the bottom.
"""
import numpy as np

from shared.plots import pyplot, save_figure

SIZE = 19


def draw_board(ax, planes, to_play="black", stone_size=70):
    """Grid lines, star points and the stones (planes 0/1: the player to move, in
    colour `to_play`, and the opponent); `stone_size` is matplotlib's marker area in points^2."""
    for i in range(SIZE):
        ax.plot([0, SIZE - 1], [i, i], color="0.3", lw=0.5, zorder=1)
        ax.plot([i, i], [0, SIZE - 1], color="0.3", lw=0.5, zorder=1)
    stars = [3, 9, 15]
    ax.scatter([c for c in stars for _ in stars], [r for _ in stars for r in stars], s=6, c="0.3", zorder=1)
    if planes is not None and planes.shape[-1] >= 2:
        opponent = "white" if to_play == "black" else "black"
        for plane, colour in ((0, to_play), (1, opponent)):
            rows, cols = np.nonzero(planes[..., plane] > 0.5)
            ax.scatter(cols, rows, s=stone_size, c=colour, edgecolors="black", linewidths=0.6, zorder=3)
    ax.set_xlim(-0.6, SIZE - 0.4)
    ax.set_ylim(-0.6, SIZE - 0.4)  # row 0 = GTP row 1 at the bottom
    ax.set_xticks(range(SIZE))
    ax.set_xticklabels([c for c in "ABCDEFGHJKLMNOPQRST"], fontsize=6)
    ax.set_yticks(range(SIZE))
    ax.set_yticklabels([str(r + 1) for r in range(SIZE)], fontsize=6)


def board_figure(heat, planes, path, title, cmap="Reds", mark=None, to_play="black", colorbar=None):
    """A (19, 19) map `heat` under the board and its stones (from `planes`), `mark`
    (row, col) circled; `colorbar`: a label to draw a colour bar with."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    image = ax.imshow(heat, cmap=cmap, origin="lower", extent=(-0.5, SIZE - 0.5, -0.5, SIZE - 0.5), zorder=0)
    draw_board(ax, planes, to_play)
    if colorbar:
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=colorbar)
    if mark is not None:
        ax.scatter([mark[1]], [mark[0]], s=160, facecolors="none", edgecolors="blue", linewidths=2, zorder=4)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def move_name(index):
    row, col = divmod(int(index), SIZE)
    return f"{'ABCDEFGHJKLMNOPQRST'[col]}{row + 1}"
