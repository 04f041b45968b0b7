"""Actionability of replies: concrete next steps, resources and specifics.

Method: see mhai.evaluate.scorers.actionability. steps = sentences with a suggestion phrase or
an imperative opening with a concrete action verb; resource = names a support resource;
specific = says when, how often or how long; score = 0.6 * min(steps, 2) / 2 + 0.2 * resource
+ 0.2 * specific.
"""

import evaluate

from mhai.evaluate.modules import columns, measurement_info
from mhai.evaluate.scorers import actionability

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
Returns:
    steps, resource, specific, score: one value per reply; mean_score.
"""


class MhaiActionability(evaluate.Measurement):
    def _info(self):
        return measurement_info(_DESCRIPTION, _KWARGS, references=False)

    def _compute(self, predictions):
        return columns(actionability(text) for text in predictions)
