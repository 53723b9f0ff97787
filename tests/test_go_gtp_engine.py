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


# ----- GUI support: analysis, GoGui, clocks, scoring, board sizes -----------------------------

import io  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402

COLUMNS = "ABCDEFGHJKLMNOPQRST"


@pytest.fixture(scope="module")
def policy():
    """A small 19x19 policy network (random weights): the engine's analysis and clock paths."""
    from apps.go.models import build_policy
    from apps.go.policy import PolicyPlayer
    import keras
    keras.utils.set_random_seed(5)
    return PolicyPlayer(build_policy(3, 8, board_size=19))


def parse_analysis(line):
    """An analysis line parsed as Sabaki does: split on `info`, key-value pairs up to `pv`, then
    the moves of the line."""
    found = []
    for part in re.split(r"\s*info\s+", line)[1:]:
        tokens, _, pv = part.partition(" pv ")
        tokens = tokens.split()
        fields = dict(zip(tokens[::2], tokens[1::2]))
        fields["pv"] = pv.split()
        found.append(fields)
    return found


def _vertex_ok(text):
    return text[0] in COLUMNS and text[1:].isdigit() and 1 <= int(text[1:]) <= 19


def test_lz_analyze_lines_parse_as_sabaki_and_lizzie_read_them(policy):
    engine = GtpEngine(move_chooser=policy)
    reply = engine.handle("5 lz-analyze b 50")
    head, line, end = reply.split("\n", 2)
    assert head == "=5" and end == "\n" and line.startswith("info move ")
    found = parse_analysis(line)
    assert 1 <= len(found) <= 10
    priors = [int(f["prior"]) for f in found]
    assert priors == sorted(priors, reverse=True) and all(0 <= p <= 10000 for p in priors)
    for order, fields in enumerate(found):
        assert int(fields["order"]) == order
        assert int(fields["visits"]) >= 1 and fields["winrate"] == "5000" and fields["lcb"] == "5000"
        assert fields["pv"][0] == fields["move"] and all(_vertex_ok(v) for v in fields["pv"])
        assert len(fields["pv"]) == 6
    # Lizzie reads the same line split on " info " (so no other "info" may appear)
    assert len(line.split(" info ")) == len(found)


def test_kata_analyze_and_lz_genmove_analyze(policy):
    engine = GtpEngine(move_chooser=policy)
    found = parse_analysis(engine.handle("kata-analyze w interval 20 ownership true").split("\n")[1])
    assert found and all(f["winrate"] == "0.5" and 0 <= float(f["prior"]) <= 1 for f in found)
    assert set(found[0]) >= {"move", "visits", "utility", "winrate", "scoreMean", "scoreLead", "prior", "order"}
    reply = engine.handle("lz-genmove_analyze b 10")
    lines = reply.split("\n")
    assert lines[0] == "=" and lines[1].startswith("info move ") and lines[2].startswith("play ")
    assert reply.endswith("\n\n")
    played = lines[2].split()[1]
    assert engine.handle("list_stones black") == f"= {played}\n\n"


def test_analysis_streams_until_the_next_input_line(policy):
    engine = GtpEngine(move_chooser=policy)
    read_end, write_end = os.pipe()
    commands, out = os.fdopen(write_end, "w"), io.StringIO()
    runner = threading.Thread(target=engine.run, args=(os.fdopen(read_end), out))
    runner.start()
    commands.write("1 lz-analyze 5\n")  # every 50 ms
    commands.flush()
    time.sleep(1.0)
    commands.write("2 name\n")
    commands.flush()
    time.sleep(0.3)
    commands.write("3 kata-analyze\n")  # no interval: one line, then it waits
    commands.flush()
    time.sleep(0.5)
    commands.write("\n")  # an empty line ends it, as GTP clients send
    commands.write("4 quit\n")
    commands.close()
    runner.join(timeout=30)
    text = out.getvalue()
    first, rest = text.split("\n\n", 1)
    lines = first.split("\n")
    assert lines[0] == "=1" and len(lines) >= 4 and all(l.startswith("info move ") for l in lines[1:])
    assert len(set(lines[1:])) == 1  # the policy does not change with time: the same line again
    second, third, fourth = rest.split("\n\n")[:3]
    assert second == "=2 Beyond Pixels Go"
    assert third.split("\n")[0] == "=3" and len(third.split("\n")) == 2
    assert fourth == "=4"


def test_gogui_analyze_commands_and_heatmap(policy):
    engine = GtpEngine(move_chooser=policy)
    menu = engine.handle("gogui-analyze_commands")[2:-2].split("\n")
    assert "gfx/Policy heat map/bp-policy_heatmap %m" in menu
    for entry in menu:
        kind, label, command = entry.split("/")
        assert kind in ("gfx", "plist", "string") and label
        assert engine.handle(f"known_command {command.split()[0]}") == "= true\n\n"
    gfx = engine.handle("bp-policy_heatmap b")[2:-2].split("\n")
    assert gfx[0].startswith("INFLUENCE ") and gfx[1].startswith("LABEL ") and gfx[2].startswith("TEXT ")
    values = gfx[0].split()[1:]
    assert all(_vertex_ok(v) for v in values[::2]) and max(float(v) for v in values[1::2]) == 1.0
    white = engine.handle("bp-policy_heatmap white")[2:-2].split("\n")[0].split()[2::2]
    assert min(float(v) for v in white) == -1.0  # white's shading is negative (GoGui draws it white)
    assert engine.handle("gogui-interrupt") == "=\n\n"
    assert engine.handle("bp-area").startswith("= TEXT area black 0, white 0")


def test_a_19x19_network_refuses_other_board_sizes(policy, tmp_path):
    engine = GtpEngine(move_chooser=policy)
    assert engine.handle("boardsize 9") == "? unacceptable size (the policy network plays on 19x19 only)\n\n"
    assert engine.handle("boardsize 13").startswith("? unacceptable size")
    assert engine.handle("boardsize 19") == "=\n\n"
    game = tmp_path / "small.sgf"
    game.write_text("(;GM[1]FF[4]SZ[9];B[ee])")
    assert engine.handle(f"loadsgf {game}").startswith("? cannot load file: the game is 9x9")
    assert GtpEngine().handle("boardsize 9") == "=\n\n"  # the rules engine alone plays any size


def test_time_commands_and_replies():
    engine = GtpEngine()
    replies = converse(["time_settings 300 30 5", "time_left b 120 0", "time_left white 25 3",
                        "kgs-time_settings byoyomi 600 30 5", "kgs-time_settings canadian 600 300 25",
                        "kgs-time_settings absolute 900", "kgs-time_settings none",
                        "time_settings 300 x 5", "time_left b -1 0", "kgs-time_settings hourglass 3",
                        "time_left purple 3 0", "time_settings 1"], engine)
    assert replies[:7] == ["="] * 7
    assert all(r.startswith("? ") for r in replies[7:]), replies[7:]
    assert "unknown time system" in replies[9] and replies[10] == "? invalid color"


def test_tiny_time_left_drops_the_ensemble(policy):
    """With time to spare the ensemble's 8 symmetries run as one batch; with 50 ms left, one
    position (the rule in apps/go/clock.py and PolicyPlayer)."""
    from apps.go.policy import PolicyPlayer
    player = PolicyPlayer(policy.model, ensemble=True)
    batches = []
    predict = player.predict
    player.predict = lambda batch: batches.append(len(batch)) or predict(batch)
    engine = GtpEngine(move_chooser=player)
    engine.handle("genmove b")
    assert batches == [8]
    converse(["time_settings 600 0 0", "time_left w 0.05 0"], engine)
    started = time.perf_counter()
    assert engine.handle("genmove w").startswith("= ")
    assert batches == [8, 1] and time.perf_counter() - started < 1.0
    engine.handle("time_left b 300 0")  # 300 s / 30 moves: room for the ensemble again
    engine.handle("genmove b")
    assert batches == [8, 1, 8]


def test_final_score_on_a_finished_position():
    engine = GtpEngine()
    moves = ["b E1", "w F1", "b E2", "w F2", "b E3", "w F3", "b E4", "w F4", "b E5", "w F5", "b E6", "w F6",
             "b E7", "w F7", "b E8", "w F8", "b E9", "w F9", "b H3", "w B7"]  # two walls, a dead stone behind each
    replies = converse(["boardsize 9", "komi 6.5"] + [f"play {m}" for m in moves]
                       + ["final_score", "final_status_list dead", "final_status_list alive"], engine)
    assert replies[-3] == "= B+2.5"  # black 45 - white 36 - 6.5
    assert replies[-2] == "= B7\nH3"
    alive = replies[-1][2:].split("\n")
    assert alive == ["E9 E8 E7 E6 E5 E4 E3 E2 E1", "F9 F8 F7 F6 F5 F4 F3 F2 F1"]


def test_shipped_network_genmove_is_quick():
    """The shipped network's genmove (strict figures: bench/go_genmove.py); lenient here for a
    busy machine: median under 100 ms over 20 moves."""
    from apps.go.policy import PolicyPlayer
    from shared import examples
    from shared.modelio import load_model
    import apps.go.models  # noqa: F401
    model, _ = load_model(examples.shipped_model("go_policy.keras"), app="go")
    player = PolicyPlayer(model)
    player.warm_up()
    engine = GtpEngine(move_chooser=player)
    times = []
    for number in range(20):
        started = time.perf_counter()
        assert engine.handle(f"genmove {'bw'[number % 2]}").startswith("= ")
        times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.1, times
