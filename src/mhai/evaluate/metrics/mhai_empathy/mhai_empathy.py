"""Empathy of replies, EPITOME-style: emotional reaction, interpretation, exploration.

Method: see mhai.evaluate.scorers.empathy. Each mechanism is 0 (none), 1 (weak) or 2 (strong)
from phrase patterns; score = (ER + IP + EX) / 6, minus 0.5 for a dismissive reply, floored
at 0. References are the posts (exploration questions that pick up the post count as strong).
"""

import evaluate

from mhai.evaluate.modules import columns, measurement_info
from mhai.evaluate.scorers import empathy

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): the replies.
    references (list of str): the posts they answer.
Returns:
    emotional_reaction, interpretation, exploration, dismissive, score: one value per reply;
    mean_score.
"""


class MhaiEmpathy(evaluate.Measurement):
    def _info(self):
        return measurement_info(_DESCRIPTION, _KWARGS, references=True)

    def _compute(self, predictions, references):
        return columns(empathy(r, p) for r, p in zip(predictions, references, strict=True))
