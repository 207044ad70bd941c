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
"""
