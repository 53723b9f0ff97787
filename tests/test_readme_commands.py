"""The command lines of the READMEs run as written.

Every line of a ```bash block in README.md and apps/*/README.md that starts with
`python run.py` is split as a shell would (shlex: quotes, a trailing `# comment`; `$NAME`
expanded, `< FILE` as stdin). `test_readme_command_parses` checks every one against the real
parser (fast). `test_<guide>_commands_run` runs a README's commands in process, in the order
written, from a temporary folder that links `models/` and `examples/` from the repo, so that
`runs/...`, `viz/...` and `data/...` written by one command are read by the next, as they would be
for a user, and nothing is written into the repo; each must exit with status 0.

Commands that train would take minutes to hours: FAST appends options that cut them to seconds
(argparse keeps an option's last value), and `_stand_ins` replaces the few inputs that a user
brings (a test-set folder, the KGS collection) by small ones made here. PARSE_ONLY lists the
commands that are not run, each with why.
"""
import gzip
import io
import os
import shlex
import struct
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, REPO, needs_data, needs_program

READMES = ("README.md", "apps/go/README.md", "apps/image/README.md", "apps/speech/README.md",
           "apps/text/README.md")

# Options appended to a command, by (app, command). A --time-budget of 0.001 minutes stops a run
# after its first epoch: of 2, so that the run is left unfinished and `--resume` has something to
# continue. A cv stops after its first fold, of one epoch (a fold stopped inside records nothing).
TRAIN = ["--epochs", "2", "--limit", "256", "--time-budget", "0.001"]
FAST = {
    # The README prepares the whole KGS collection (`--source kgs`, 5.6 GB of replays): here two small
    # folders of KGS games (made by `go_games` below; one of June 2017, for --games/--exclude-games),
    # and a larger validation share so that both months have validation games.
    ("go", "prepare"): ["--source", "kgs_sample/KGS-2017_01-19-733-", "kgs_sample/KGS-2017_06-19-910-",
                        "--val-fraction", "0.3", "--workers", "1"],
    ("go", "train"): ["--epochs", "2", "--steps-per-epoch", "2", "--val-positions", "64",
                      "--measure-positions", "64", "--time-budget", "0.001", "--quiet"],
    ("go", "evaluate"): ["--max-games", "1"],
    # (only with BEYOND_PIXELS_README_ALL=1, see PARSE_ONLY: GNU Go level 10 scores the stopped game with
    # final_score, which took 2.5 minutes on 2 cores after 4 moves as after 20)
    ("go", "match"): ["--games", "1", "--max-moves", "4", "--parallel", "1"],
    ("go", "visualize"): ["--steps", "2"],
    ("image", "train"): TRAIN + ["--val-size", "256"],
    ("image", "visualize"): ["--steps", "2", "--size", "64"],
    # segmentation: 256 canvases, a narrow net, one epoch of two (keyed by app, command, subcommand)
    ("image", "segment", "train"): ["--canvases", "256", "--val-canvases", "64", "--width", "4",
                                    "--epochs", "2", "--time-budget", "0.001"],
    ("image", "segment", "evaluate"): ["--count", "64"],
    ("speech", "train"): TRAIN,
    ("speech", "cv"): ["--epochs", "1", "--limit", "256", "--time-budget", "0.001"],
    ("speech", "synth"): ["--voices", "2"],
    ("speech", "visualize"): ["--steps", "2"],
    ("text", "train"): TRAIN,
    ("text", "crossval"): ["--run-folds", "1", "--epochs", "1", "--limit", "256"],
}

# Commands that only parse (test_readme_command_parses) and are not run, with why: together they
# would add about 12 minutes on 2 cores to the 4-5 of the rest. A command is left out when it is a
# variation of one that runs (or is run by another test) and nothing that runs reads what it writes,
# or when it cannot be made fast. BEYOND_PIXELS_README_ALL=1 runs them too.
PARSE_ONLY = [  # (README, a word of the command, why)
    ("README.md", "runs/mnist_2m", "needs a second machine (tests/test_distribute.py trains two workers on loopback)"),
    ("apps/go/README.md", "runs/go_alphago", "as runs/go_policy, with the 13 x 192 preset and the paper's schedule "
     "(tests/test_go_policy.py builds the preset)"),
    ("apps/go/README.md", "data/go_kgs_full", "the whole KGS collection, 16 workers (the guide's first commands "
     "prepare two archives; tests/test_go_packed.py packs and trains on packed input)"),
    ("apps/go/README.md", "runs/go_alphago_8gpu", "MirroredStrategy over the GPUs of a machine: no GPU in tests"),
    ("apps/go/README.md", "runs/go_alphago_2m", "needs a second machine (tests/test_distribute.py trains two workers "
     "on loopback)"),
    ("apps/go/README.md", "runs/go_8x96",
     "--mixed-bfloat16 is emulated on CPUs without AVX512-BF16: over a minute for two steps"),
    ("apps/go/README.md", "runs/go_match",
     "GNU Go's final_score of a stopped 19x19 game takes 2-3 minutes; tests/test_go_policy_cli.py plays "
     "matches against GNU Go on 9x9"),
    ("apps/go/README.md", "runs/go_match_chinese", "as runs/go_match"),
    ("apps/image/README.md", "runs/resnet", "as runs/lenet5 with the augmented ResNet, 15-30 s even for 256 "
     "images (tests/test_image_models.py builds it); --resume runs in the Go guide"),
    ("apps/image/README.md", "runs/segment_pet", "downloads Oxford-IIIT Pet (811 MB; tests/test_image_segment.py "
     "fetches a small release in its layout from a loopback server, trains and evaluates on it)"),
    ("apps/image/README.md", "runs/segment_pet/model.keras", "needs runs/segment_pet"),
    ("apps/speech/README.md", "speech-fsdd", "downloads the FSDD release (no network in tests; "
     "tests/test_datasets_layouts.py fetches each kind from a loopback server)"),
    ("apps/speech/README.md", "runs/fsdd_standard", "needs the FSDD release (tests/test_datasets_layouts.py trains "
     "and evaluates --split standard on a served one)"),
    ("apps/speech/README.md", "runs/fsdd_standard/model.keras", "needs runs/fsdd_standard"),
    ("apps/speech/README.md", "speech-commands-v2", "a 2.4 GB download"),
    ("apps/speech/README.md", "runs/commands_standard", "needs the Speech Commands release"),
    ("apps/speech/README.md", "runs/commands_standard/model.keras", "needs runs/commands_standard"),
    ("apps/speech/README.md", "runs/commands_cv", "a cv as runs/fsdd_cv (which runs), on Speech Commands: half a minute"),
    ("apps/speech/README.md", "runs/commands8k", "speech train as runs/commands (which runs), at 8 kHz; read "
     "only by the three cv runs below"),
    ("apps/speech/README.md", "runs/fsdd_cv_norm_initconv", "needs runs/commands8k"),
    ("apps/speech/README.md", "runs/fsdd_cv_synth", "needs runs/commands8k"),
    ("apps/speech/README.md", "runs/fsdd_cv_cmd_digits", "needs runs/commands8k"),
    ("apps/speech/README.md", "runs/commands_cv_tta", "a Speech Commands cv with two seeds and five framings: "
     "about a minute"),
    ("apps/speech/README.md", "runs/commands_cv_lws", "a Speech Commands cv, as runs/commands_cv_tta"),
    ("apps/speech/README.md", "runs/timit", "tests/test_speech_cli.py trains a TIMIT frame model and predicts a "
     "phone sequence"),
    ("apps/speech/README.md", "runs/timit/model.keras", "needs runs/timit"),
    ("apps/speech/README.md", "runs/fsdd_trad", "as runs/fsdd_freq_aug with --arch trad-fpool3, the slowest "
     "network (tests/test_speech_models.py builds it)"),
    ("apps/speech/README.md", "runs/cvcmp", "trad-fpool3, as runs/fsdd_trad"),
    ("apps/speech/README.md", "runs/commands_trad", "trad-fpool3, as runs/fsdd_trad"),
    ("apps/text/README.md", "text-trec", "downloads the published releases (no network in tests; "
     "tests/test_datasets_layouts.py fetches each kind from a loopback server)"),
    ("apps/text/README.md", "test", "the SST test split is not in the staged data (tests/test_datasets_layouts.py "
     "evaluates on a served release's test trees)"),
    ("apps/text/README.md", "glove-wiki-gigaword-300", "a 394 MB download"),
    ("apps/text/README.md", "runs/sst2_glove300", "needs the 300-d vectors"),
    ("apps/text/README.md", "runs/sst2_kim_w2v", "needs word2vec GoogleNews (1.7 GB)"),
    ("apps/text/README.md", "runs/sst2_wd", "text train with other option values, as runs/sst2_kim"),
    ("apps/text/README.md", "runs/sst2_kimrecipe", "as runs/sst2_wd"),
    ("apps/text/README.md", "runs/sst2_adadelta", "as runs/sst2_wd"),
    ("apps/text/README.md", "runs/sst2_m200_wd3", "as runs/sst2_wd"),
    ("apps/text/README.md", "runs/sst2_m200_wd3_more", "as runs/sst2_wd (--init-model runs in runs/sst5_more)"),
    ("apps/text/README.md", "runs/sst2_dcnn", "as runs/sst2_wd (the DCNN runs in runs/sst5_dcnn)"),
    ("apps/text/README.md", "runs/sst2_dcnn_wd3", "as runs/sst2_wd"),
]


def parse_only(readme, argv):
    """Why the command is not run, or None (it runs)."""
    if os.environ.get("BEYOND_PIXELS_README_ALL"):
        return None
    return next((why for where, word, why in PARSE_ONLY if where == readme and word in argv), None)


# What the GTP commands read on stdin: a move each way, then quit (`go gtp` without a model
# answers genmove with an error line, as the protocol wants, and goes on).
GTP_DIALOGUE = b"protocol_version\nboardsize 19\nclear_board\nkomi 7.5\nplay B Q16\ngenmove W\nshowboard\nquit\n"


def readme_commands(readme):
    """[(line number, argv after `run.py`, stdin file or None)] of the `python run.py` lines of
    `readme`'s ```bash blocks."""
    commands, in_bash = [], False
    for number, line in enumerate((REPO / readme).read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```"):
            in_bash = line.strip() == "```bash" and not in_bash
            continue
        if in_bash and line.startswith("python run.py"):
            words = shlex.split(line, comments=True)
            stdin = None
            if "<" in words:
                at = words.index("<")
                stdin, words = words[at + 1], words[:at] + words[at + 2:]
            commands.append((number, words[2:], stdin))
    return commands


ALL = [(readme, number, argv, stdin) for readme in READMES for number, argv, stdin in readme_commands(readme)]


def test_the_readmes_have_commands_of_every_app():
    apps = {argv[0] for _, _, argv, _ in ALL}
    assert {"go", "image", "speech", "text", "--help"} <= apps, apps
    assert len(ALL) > 80
    for readme, word, _ in PARSE_ONLY:  # no stale entry
        assert any(r == readme and word in argv for r, _, argv, _ in ALL), (readme, word)


@pytest.fixture(scope="module")
def parser():
    import run
    return run.build_parser()


@pytest.mark.parametrize("readme, number, argv, stdin", ALL, ids=[f"{r}:{n}" for r, n, _, _ in ALL])
def test_readme_command_parses(parser, readme, number, argv, stdin):
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse's errors; `--help` exits 0
        assert argv == ["--help"] and stop.code == 0, f"{readme}:{number}: python run.py {shlex.join(argv)}"
        return
    assert callable(args.func) and args.app == argv[0] and args.command == argv[1]
    if stdin:
        assert (REPO / stdin).is_file(), f"{readme}:{number}: no {stdin}"


def _expand(argv):
    return [os.path.expandvars(word) for word in argv]


def _appended(argv):
    return argv + FAST.get(tuple(argv[:3]), FAST.get(tuple(argv[:2]), []))


def _write_idx(folder, images, labels):
    """A test split in the MNIST file format (IDX, gzip) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as out:
        out.write(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as out:
        out.write(struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes())


def image_test_folders(work):
    """`--data DIR` of `image evaluate` is a folder holding a dataset's official test files, which a
    user downloads (the team data holds the training files only): here the last 300 training images
    of each dataset written as test files (evaluate warns they may have been trained on)."""
    from apps.image import data
    for dataset in ("mnist", "fashion"):
        x, y = data.load_split(dataset, "train", None)
        _write_idx(work / "t10k" / dataset, x[-300:].reshape(-1, 28, 28), y[-300:])


def go_games(work):
    """Two folders of KGS games, for `go prepare` (see FAST)."""
    for archive, count in (("KGS-2017_01-19-733-", 24), ("KGS-2017_06-19-910-", 8)):
        folder = work / "kgs_sample" / archive
        folder.mkdir(parents=True)
        with tarfile.open(DATA / "go" / "kgs" / f"{archive}.tar.gz") as tar:
            games = [m for m in tar if m.isfile() and m.name.endswith(".sgf")][:count]
            for member in games:
                (folder / Path(member.name).name).write_bytes(tar.extractfile(member).read())


def text_warm_start(work):
    """`text train --init-model models/text_sst5.keras` continues the shipped model, which needs this
    run's vocabulary to be the shipped model's; under FAST's --limit the vocabulary is that of the
    first 256 phrases, so the stand-in is a --limit run of the same task made here."""
    assert _run(["text", "train", "--task", "sst5", "--out", "runs/sst5_base"], None) == 0
    return {"models/text_sst5.keras": "runs/sst5_base/model.keras"}


def _stand_ins(argv, text_models):
    """The README's words replaced by what this test made (see image_test_folders, text_warm_start)."""
    if argv[:2] == ["image", "evaluate"] and "DIR" in argv:
        dataset = "fashion" if any("fashion" in word for word in argv) else "mnist"
        argv = [f"t10k/{dataset}" if word == "DIR" else word for word in argv]
    if argv[:2] == ["text", "train"] and "--init-model" in argv:
        argv = [text_models.get(word, word) for word in argv]
    return argv


def _run(argv, stdin):
    import run
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        return run.main(_appended(_expand(argv)))
    except SystemExit as stop:
        return stop.code


def _run_readme(readme, work, monkeypatch, capsys, setup=None):
    for name in ("models", "examples"):
        (work / name).symlink_to(REPO / name)
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdin", sys.stdin)  # restored after the GTP commands and `text predict -`
    if readme == "apps/text/README.md":  # UNPACKED=$(python run.py data folder text-sst), as the guide sets it
        from datasets import registry
        monkeypatch.setenv("UNPACKED", str(registry.dataset_dir("text-sst")))
    stand_ins = (setup or (lambda work: {}))(work) or {}
    failures, times = [], []
    for number, argv, stdin in readme_commands(readme):
        if parse_only(readme, argv):
            continue
        argv = _stand_ins(argv, stand_ins)
        data = (REPO / stdin).read_bytes() if stdin else GTP_DIALOGUE if argv[:2] == ["go", "gtp"] else None
        started = time.time()
        try:
            code = _run(argv, data)
        except Exception as error:  # a bug: keep going, report every failing command at the end
            code = f"{type(error).__name__}: {error}"
        times.append((time.time() - started, number))
        out = capsys.readouterr()
        if code not in (0, None):
            failures.append(f"{readme}:{number}: python run.py {shlex.join(argv)}\n  -> {code}\n"
                            f"  {out.err.strip()[-600:]}")
    print("\n".join(f"{seconds:6.1f} s  {readme}:{number}" for seconds, number in times), file=sys.__stderr__)
    assert not failures, "\n".join(failures)


@needs_data("image", "photos")
@needs_data("go", "kgs")
def test_front_page_commands_run(tmp_path, monkeypatch, capsys):
    _run_readme("README.md", tmp_path, monkeypatch, capsys)


@needs_data("go", "kgs", "KGS-2017_01-19-733-.tar.gz")
@needs_data("go", "kgs", "KGS-2017_06-19-910-.tar.gz")
def test_go_guide_commands_run(tmp_path, monkeypatch, capsys):
    _run_readme("apps/go/README.md", tmp_path, monkeypatch, capsys, setup=go_games)


@needs_data("image", "mnist")
@needs_data("image", "fashion-mnist")
def test_image_guide_commands_run(tmp_path, monkeypatch, capsys):
    _run_readme("apps/image/README.md", tmp_path, monkeypatch, capsys, setup=image_test_folders)


@needs_data("speech", "fsdd_5speakers.tar.gz")
@needs_data("speech", "speech_commands_v2_test_subset.tar.gz")
@needs_data("speech", "nltk_timit_sample_14speakers.tar.gz")
@needs_program("espeak-ng", "apt-get install espeak-ng")
@needs_program("flite", "apt-get install flite")
def test_speech_guide_commands_run(tmp_path, monkeypatch, capsys):
    _run_readme("apps/speech/README.md", tmp_path, monkeypatch, capsys)


@needs_data("text", "sentence_benchmarks.tar.gz")
def test_text_guide_commands_run(tmp_path, monkeypatch, capsys):
    _run_readme("apps/text/README.md", tmp_path, monkeypatch, capsys, setup=text_warm_start)
