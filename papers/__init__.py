"""The two papers' pipelines and presets, built on :mod:`ibn`.

``ibn`` is the library (transforms, AND-OR and multi-order interactions, games, maskers, models,
training, distributions); this package holds what only the book's reproduction of the two papers
needs: the experiment pipelines, their presets and their cached stages. The notebooks import it;
``ibn`` never does (an import contract in the tests keeps it so).

- ``papers.bottleneck``: paper A (the interaction bottleneck): discovery, cause, modulation,
  consequences.
- ``papers.generalizable``, ``papers.generalizable_text``, ``papers.dynamics``, ``papers.noise``,
  ``papers.penalty``, ``papers.llm``: paper B (generalizable and non-generalizable interactions).
- ``papers.text_models``: the text classifiers both papers' text experiments train.
- ``papers.bottleneck_runs``, ``papers.chapters_b``, ``papers.tutorial``: the notebooks' own
  steps (one cached run per model of A1–A4, paper B's chapter helpers, the tutorials' helpers),
  so that a notebook only calls ``papers`` and ``ibn``, plots and prints.

Every notebook starts with :func:`setup` (the scale, the thread count, quiet progress bars); the
pipelines show progress bars only when a call passes ``progress=True``.
"""

from papers._setup import PAGE_WIDTH, dataset_label, model_label, setup

__all__ = ["setup", "PAGE_WIDTH", "model_label", "dataset_label"]
