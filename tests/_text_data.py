"""Skip marker for tests that need the real MiniLM files and the Rotten Tomatoes sentences."""

from __future__ import annotations

import pytest


def _have_text_data() -> bool:
    try:
        from ibn.data import minilm_path
        from papers import text_models

        minilm_path()
        text_models.load_sentences("test")
    except Exception:  # noqa: BLE001 - any missing file means skip
        return False
    return True


requires_text_data = pytest.mark.skipif(not _have_text_data(),
                                        reason="MiniLM / rt-sentences not fetched")
