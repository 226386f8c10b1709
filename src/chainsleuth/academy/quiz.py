"""Automatic quiz grading with per-question feedback.

Scoring rules (stated in ``docs/academy.md`` so trainees know them):

* single choice: full points for the right option, none otherwise;
* multiple answer: each right option ticked earns its share, each wrong option ticked costs a share, never below
  zero, so ticking everything does not pay;
* numeric: full points when ``|given - answer| <= tolerance``; thousands separators, ``%`` and currency signs are
  accepted because trainees copy numbers from tools that print them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chainsleuth.academy.courses import Module, Question
from chainsleuth.errors import InvalidInputError


@dataclass(frozen=True)
class QuestionResult:
    """How one question was answered: points, whether it was fully right, and the feedback to show."""

    question_id: str
    points: float
    max_points: float
    correct: bool
    given: Any
    expected: Any
    feedback: str
    verdict: str = ""

    def as_dict(self, *, reveal: bool = True) -> dict[str, Any]:
        """The result; without ``reveal`` only right or wrong (no expected answer, no explanation)."""
        return {
            "question": self.question_id,
            "points": round(self.points, 3),
            "max_points": self.max_points,
            "correct": self.correct,
            "given": self.given,
            **({"expected": self.expected, "feedback": self.feedback} if reveal else {"feedback": self.verdict}),
        }


@dataclass(frozen=True)
class QuizResult:
    """A graded quiz."""

    module_id: str
    score: float
    max_score: float
    questions: tuple[QuestionResult, ...]

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def as_dict(self, *, reveal: bool = True) -> dict[str, Any]:
        """The result; ``reveal=False`` hides expected answers and explanations (see :func:`feedback`)."""
        return {
            "module": self.module_id,
            "score": round(self.score, 3),
            "max_score": self.max_score,
            "percent": round(self.percent, 1),
            "revealed": reveal,
            "questions": [q.as_dict(reveal=reveal) for q in self.questions],
        }


def feedback(result: QuizResult, *, pass_percent: float, passed_before: bool = False) -> dict[str, Any]:
    """What a trainee is shown after a try: right or wrong per question until the module is passed, then the
    expected answers and explanations.

    Why: tries are unlimited and the best one counts, so showing the expected answers after a failed try would let
    anyone pass the second time by copying them. Once passed (now or before), the explanations teach.
    """
    return result.as_dict(reveal=passed_before or result.percent >= pass_percent)


def parse_number(value: Any) -> float:
    """A number from a trainee's answer: ``350000``, ``"350,000"``, ``"USD 350 000"``, ``"12.5 %"``."""
    if isinstance(value, bool):
        raise InvalidInputError("a number is expected, not true/false")
    if isinstance(value, int | float):
        return float(value)
    cleaned = re.sub(r"[\s,_%$€]|USD|EUR|BTC|ETH|USDT", "", str(value), flags=re.IGNORECASE)
    try:
        return float(cleaned)
    except ValueError:
        raise InvalidInputError("not a number", value=str(value)) from None


def _choices(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple | set):
        return [str(v).strip() for v in value]
    return [str(value)]


def grade_question(question: Question, given: Any) -> QuestionResult:
    """Grade one answer (``None`` means unanswered and scores zero)."""
    points = 0.0
    if question.type == "single":
        chosen = _choices(given)
        points = question.points if chosen == [question.answer] else 0.0
        shown: Any = chosen[0] if len(chosen) == 1 else chosen
    elif question.type == "multiple":
        chosen_set = set(_choices(given))
        right = set(question.answer)
        share = question.points / len(right)
        raw = share * len(chosen_set & right) - share * len(chosen_set - right)
        points = max(0.0, raw)
        shown = sorted(chosen_set)
    else:
        try:
            number = parse_number(given) if given is not None and given != "" else None
        except InvalidInputError:
            number = None
        if number is not None and abs(number - float(question.answer)) <= question.tolerance + 1e-9:
            points = question.points
        shown = number
    correct = points >= question.points - 1e-9
    if given is None or given == "" or given == []:
        verdict = "Not answered."
    elif correct:
        verdict = "Correct."
    elif points > 0:
        verdict = "Partly correct."
    else:
        verdict = "Not correct."
    return QuestionResult(
        question_id=question.id,
        points=points,
        max_points=question.points,
        correct=correct,
        given=shown,
        expected=question.answer,
        feedback=f"{verdict} {question.explanation}".strip(),
        verdict=verdict,
    )


def grade_quiz(module: Module, answers: Mapping[str, Any]) -> QuizResult:
    """Grade a module's quiz. Unknown question ids are refused (a typo would otherwise silently score zero)."""
    known = {q.id for q in module.quiz}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise InvalidInputError("answers name questions this quiz does not have", module=module.id, unknown=unknown)
    results = tuple(grade_question(q, answers.get(q.id)) for q in module.quiz)
    return QuizResult(
        module_id=module.id,
        score=sum(r.points for r in results),
        max_score=sum(q.points for q in module.quiz),
        questions=results,
    )
