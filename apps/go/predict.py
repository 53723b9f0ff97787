"""`run.py go predict`: the policy's top moves at one position of an SGF game.

The position is the one before move N (1-based: move N is the move to
predict). Prints the top-k moves with probabilities (and the move actually
played, if any), an ASCII board with the top moves marked 1..k, and writes a
PNG heatmap of the policy over the board.
"""
from pathlib import Path

import numpy as np

from apps.go.features import features
from apps.go.go import BLACK, format_vertex, to_ascii
from apps.go.sgf_wrapper import position_before
from shared.errors import UserError


def top_moves(probabilities, k):
    order = np.argsort(-probabilities)[:k]
    return [(divmod(int(i), 19), float(probabilities[i])) for i in order]


def ascii_board(position, top):
    """The board (X black, O white) with the top moves marked 1..9, top row first."""
    return to_ascii(position, {point: str(rank + 1) for rank, (point, _) in enumerate(top[:9])})


def predict(model, sgf_path, move_number, k=5, heatmap=None, ensemble=False):
    """A dict: to_play, top moves, the played move and its probability; writes the heatmap."""
    from apps.go.policy import SENSIBLE, move_probabilities
    position, played = position_before(sgf_path, move_number)
    planes = features(position)
    legal = [i for i in range(361) if position.board[i] == 0 and position.is_legal(divmod(i, 19))]
    if not legal:
        raise UserError(f"{sgf_path}: move {move_number}: no legal move on the board for "
                        f"{'black' if position.to_play == BLACK else 'white'} (only pass)")
    probabilities = move_probabilities(model, planes[None], ensemble)[0]
    top = top_moves(probabilities, k)
    result = {
        "sgf": str(sgf_path), "move": move_number, "to_play": "black" if position.to_play == BLACK else "white",
        "top": [{"move": format_vertex(p), "probability": round(q, 5)} for p, q in top],
        "played": format_vertex(played) if played else None,
        "played_probability": float(probabilities[played[0] * 19 + played[1]]) if played else None,
        "played_rank": int((probabilities > probabilities[played[0] * 19 + played[1]]).sum()) + 1 if played else None,
        "sensible_moves": int(planes[..., SENSIBLE].sum()),
        "played_illegal": position.why_illegal(played, position.to_play) if played else None,
    }
    if heatmap:
        from apps.go.board_plot import board_figure
        board_figure(probabilities.reshape(19, 19), planes, heatmap,
                     f"{Path(sgf_path).name}, move {move_number}, {result['to_play']} to play", cmap="magma_r",
                     mark=played, to_play=result["to_play"], colorbar="move probability")
        result["heatmap"] = str(heatmap)
    return result, ascii_board(position, top)
