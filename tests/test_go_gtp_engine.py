"""GTP engine: scripted conversations, error replies, GNU Go's analysis formats, a subprocess run."""
import subprocess
import sys


from conftest_go import REPO, GnuGo, needs_gnugo, random_game, vertex
from apps.go.gtp_engine import GtpEngine, fixed_handicap_points


def converse(commands, engine=None):
    """Replies (without the trailing blank line) to each command, in order."""
    engine = engine or GtpEngine()
    replies = []
    for command in commands:
        reply = engine.handle(command)
        assert reply is None or reply.endswith("\n\n")
        replies.append(None if reply is None else reply[:-2])
    return replies


def test_administrative_commands_and_ids():
    replies = converse(["protocol_version", "1 name", "2 version", "known_command play", "known_command genmove",
                       "list_commands", "# a comment", "", "7 QUIT"])
    assert replies[0] == "= 2"
    assert replies[1] == "=1 Beyond Pixels Go"
    assert replies[2].startswith("=2 ")
    assert replies[3] == "= true" and replies[4] == "= false"  # no move chooser: no genmove
    assert {"play", "is_legal", "countlib", "findlib", "list_stones", "captures", "loadsgf"} <= set(
        replies[5][2:].split("\n"))
    assert replies[6] is None and replies[7] is None
    assert replies[8] == "=7"


def test_play_capture_undo_and_case_insensitive_colours():
    engine = GtpEngine()
    replies = converse(["boardsize 9", "play B a2", "play w A1", "PLAY Black b1", "captures black", "list_stones white",
                       "list_stones BLACK", "undo", "list_stones white", "captures b"], engine)
    assert replies[:4] == ["=", "=", "=", "="]
    assert replies[4] == "= 1"
    assert replies[5] == "="
    assert replies[6] == "= A2 B1"
    assert replies[7] == "="
    assert replies[8] == "= A1" and replies[9] == "= 0"


def test_errors_never_stop_the_engine():
    engine = GtpEngine()
    replies = converse(["boardsize 9", "play black Z9", "play black J10", "play purple A1", "play black",
                       "frobnicate", "boardsize 99", "boardsize x", "komi abc", "undo",
                       "play black E5", "3 play white E5", "countlib A1", "findlib I5", "is_legal black E5",
                       "name"], engine)
    assert replies[0] == "="
    assert all(r.startswith("?") for r in replies[1:10]), replies
    assert replies[10] == "="
    assert replies[11] == "?3 illegal move"
    assert replies[12] == "? vertex must not be empty"
    assert replies[13] == "? invalid coordinate"
    assert replies[14] == "= 0"
    assert replies[15] == "= Beyond Pixels Go"


def test_suicide_and_ko_are_illegal_moves():
    engine = GtpEngine()
    replies = converse(["boardsize 5", "play b B5", "play b A4", "is_legal w A5", "play w A5"], engine)
    assert replies[3] == "= 0" and replies[4] == "? illegal move"
    replies = converse(["clear_board", "play b B5", "play w C5", "play b A4", "play w B4", "play b B3",
                       "play w D4", "play b A1", "play w C3", "play b C4", "captures b", "is_legal w B4",
                       "play w B4", "play w E1", "play b E2", "is_legal w B4"], engine)
    assert replies[10] == "= 1"
    assert replies[11] == "= 0" and replies[12] == "? illegal move"
    assert replies[15] == "= 1"  # after a move elsewhere the ko may be retaken


def test_handicap_komi_and_showboard():
    engine = GtpEngine()
    replies = converse(["komi 0.5", "fixed_handicap 4", "list_stones black", "fixed_handicap 2", "clear_board",
                       "set_free_handicap D4 Q16 K10", "list_stones black", "showboard", "clear_board",
                       "set_free_handicap D4", "boardsize 8", "fixed_handicap 5"], engine)
    assert replies[1] == "= D16 Q16 D4 Q4"
    assert replies[2] == "= D16 Q16 D4 Q4"
    assert replies[3] == "? board not empty"
    assert replies[6] == "= Q16 K10 D4"
    assert "white to play" in replies[7] and " X " in replies[7]
    assert replies[9] == "? bad vertex list"
    assert replies[11] == "? invalid handicap"
    assert engine.komi == 0.5


def test_loadsgf_sets_up_the_game(tmp_path):
    game = tmp_path / "game.sgf"
    game.write_text("(;GM[1]FF[4]SZ[9]KM[6.5]HA[2]AB[cc][gg];W[ee];B[ce];W[ec])")
    replies = converse([f"loadsgf {game}", "list_stones black", "list_stones white", f"loadsgf {game} 2",
                       "list_stones white", f"loadsgf {tmp_path / 'missing.sgf'}"])
    assert replies[0] == "= black"
    assert replies[1] == "= C7 C5 G3"  # SGF rows count from the top: cc = C7
    assert replies[2] == "= E7 E5"
    assert replies[3] == "= black" and replies[4] == "= E5"
    assert replies[5].startswith("? cannot load file")


def test_genmove_uses_the_plugged_in_chooser():
    def first_legal(position, colour):
        return next(position.point(i) for i in range(position.size ** 2) if position.is_legal(position.point(i)))

    engine = GtpEngine(move_chooser=first_legal)
    replies = converse(["known_command genmove", "boardsize 9", "genmove b", "genmove w", "list_stones black"], engine)
    assert replies[0] == "= true"
    assert replies[2] == "= A1" and replies[3] == "= B1"


def test_fixed_handicap_matches_gnugo_layout():
    assert fixed_handicap_points(19, 9)[-1] == (9, 9)
    assert len(fixed_handicap_points(13, 8)) == 8


@needs_gnugo
def test_analysis_replies_match_gnugo_exactly():
    gnugo = GnuGo(9)
    engine = GtpEngine()
    engine.handle("boardsize 9")
    try:
        history = random_game(9, 90, seed=7)
        for number, (position, move) in enumerate(history):
            colour = "black" if position.to_play == 1 else "white"
            if number % 10 == 0:
                checks = ["list_stones black", "list_stones white", "captures black", "captures white"]
                for _, stones, _ in position.groups():
                    checks += [f"countlib {vertex(stones[0])}", f"findlib {vertex(stones[0])}"]
                checks += [f"is_legal {colour} {vertex(position.point(i))}" for i in range(0, 81, 7)]
                for check in checks:
                    ours = engine.handle(check)[1:].strip()
                    theirs = gnugo.ask(check)
                    if check.startswith("findlib"):
                        ours, theirs = sorted(ours.split()), sorted(theirs.split())
                    assert ours == theirs, check
            play = f"play {colour} {'pass' if move is None else vertex(move)}"
            assert engine.handle(play) == "= \n\n"[:1] + "\n\n"
            gnugo.ask(play)
        for fixed in ("clear_board", "fixed_handicap 9"):
            assert engine.handle(fixed)[1:].strip() == gnugo.ask(fixed)
    finally:
        gnugo.close()


def test_run_py_go_gtp_subprocess():
    commands = "1 boardsize 9\n2 play b E5\n3 showboard\n4 countlib E5\nbogus\n5 quit\nname\n"
    result = subprocess.run([sys.executable, "run.py", "go", "gtp"], input=commands, capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("=1\n\n=2\n\n=3 \n")
    assert "=4 4\n\n" in out and "? unknown command\n\n" in out
    assert out.endswith("=5\n\n")  # stops at quit: `name` is never answered
