"""Readability of replies: textstat Flesch-Kincaid grade and Flesch reading ease (offline).

Method: see mhai.evaluate.readability. The score is reading ease clipped to 0..100 / 100;
empty (fewer than min_words words) and dismissive replies score 0 and get no grade.
"""

import evaluate

from mhai.evaluate.modules import columns, measurement_info
from mhai.evaluate.readability import ensure_cmudict, readability

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
    min_words (int, optional): replies with fewer words count as empty. Default 3.
Returns:
    fk_grade, reading_ease, empty, dismissive, score: one value per reply; mean_score.
"""


class MhaiReadability(evaluate.Measurement):
    def _info(self):
        return measurement_info(_DESCRIPTION, _KWARGS, references=False)

    def _download_and_prepare(self, dl_manager):
        ensure_cmudict()

    def _compute(self, predictions, min_words=3):
        return columns(readability(text, min_words=min_words) for text in predictions)
