"""Course content, the Markdown subset, and quiz grading (single, multiple, numeric with tolerance)."""

from __future__ import annotations

import pytest

from chainsleuth.academy.courses import default_course, parse_module
from chainsleuth.academy.markdown import render_markdown
from chainsleuth.academy.quiz import grade_quiz, parse_number
from chainsleuth.errors import InvalidInputError

MODULE = """---
id: demo
title: Demo
quiz:
  - id: one
    type: single
    prompt: Pick b.
    options: {a: A, b: B, c: C}
    answer: b
    explanation: Because b.
  - id: many
    type: multiple
    prompt: Pick a and c.
    options: {a: A, b: B, c: C, d: D}
    answer: [a, c]
    explanation: a and c.
  - id: num
    type: numeric
    prompt: Haircut share?
    answer: 1.5
    tolerance: 0.01
    unit: BTC
    explanation: 6 x 25 %.
---
# Demo
"""


def test_the_course_has_every_module_with_a_quiz() -> None:
    course = default_course()
    assert [m.id for m in course.modules] == [
        "chains", "reading-a-transaction", "addresses-and-clusters", "tracing-and-taint",
        "exposure-and-attribution", "mixers-bridges-hopping", "exchange-cooperation",
        "privacy-and-disclosure", "writing-for-court",
    ]  # fmt: skip
    for module in course.modules:  # every module checks both recognition and a worked number
        types = {q.type for q in module.quiz}
        assert "numeric" in types, module.id
        assert types & {"single", "multiple"}, module.id
        assert module.quiz, module.id
        assert len(module.markdown) > 1500, module.id
        assert "<script" not in module.html
    assert set(course.exercises) >= {"phone-theft", "unexplained-wealth", "ransomware", "hack-laundering",
                                     "structuring", "freeze-request"}  # fmt: skip


def test_the_packaged_answers_are_right() -> None:
    """Every packaged question graded with its own answer gets full marks (and the public view hides it)."""
    for module in default_course().modules:
        result = grade_quiz(module, {q.id: q.answer for q in module.quiz})
        assert result.score == result.max_score, module.id
        assert all("answer" not in q.public() and "explanation" not in q.public() for q in module.quiz)


def test_single_multiple_and_numeric_grading() -> None:
    module = parse_module(MODULE)
    right = grade_quiz(module, {"one": "b", "many": ["c", "a"], "num": "1.505 BTC"})
    assert right.score == 3
    assert right.percent == 100
    wrong = grade_quiz(module, {"one": "a", "many": ["a"], "num": 1.6})
    by_id = {q.question_id: q for q in wrong.questions}
    assert by_id["one"].points == 0
    assert "Because b." in by_id["one"].feedback
    assert by_id["many"].points == pytest.approx(0.5)
    assert by_id["many"].feedback.startswith("Partly")
    assert by_id["num"].points == 0
    greedy = grade_quiz(module, {"many": ["a", "b", "c", "d"]})
    assert {q.question_id: q.points for q in greedy.questions}["many"] == 0  # ticking everything does not pay
    empty = grade_quiz(module, {})
    assert empty.score == 0
    assert empty.questions[0].feedback.startswith("Not answered")


def test_numeric_tolerance_boundary_and_formats() -> None:
    module = parse_module(MODULE)
    assert grade_quiz(module, {"num": 1.51}).score == 1
    assert grade_quiz(module, {"num": 1.52}).score == 0
    assert parse_number("USD 350,000") == 350000
    assert parse_number("12.5 %") == 12.5
    with pytest.raises(InvalidInputError):
        parse_number("lots")


def test_unknown_questions_and_broken_quizzes_are_refused() -> None:
    module = parse_module(MODULE)
    with pytest.raises(InvalidInputError, match="does not have"):
        grade_quiz(module, {"typo": "b"})
    with pytest.raises(InvalidInputError, match="one of the options"):
        parse_module(MODULE.replace("answer: b", "answer: z"))
    with pytest.raises(InvalidInputError, match="tolerance"):
        parse_module(MODULE.replace("    tolerance: 0.01\n", ""))


def test_markdown_subset_escapes_and_renders() -> None:
    html = render_markdown(
        "# Title <x>\n\nSome **bold**, *it* and `a<b>` [ok](https://example.org) [bad](javascript:alert(1))\n\n"
        "| a | b |\n|---|---|\n| 1 | <i>2</i> |\n\n- one\n- two\n\n1. first\n2. second\n\n```\n<script>\n```\n"
    )
    assert "<h1>Title &lt;x&gt;</h1>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>it</em>" in html
    assert "<code>a&lt;b&gt;</code>" in html
    assert '<a href="https://example.org">ok</a>' in html
    assert "javascript" not in html
    assert "<td>&lt;i&gt;2&lt;/i&gt;</td>" in html
    assert "<ul><li>one</li><li>two</li></ul>" in html
    assert "<ol><li>first</li>" in html
    assert "<pre><code>&lt;script&gt;</code></pre>" in html


def test_expected_answers_are_shown_only_once_the_quiz_is_passed() -> None:
    """Unlimited tries with the best counted are fair only if a failed try does not reveal the answers."""
    from chainsleuth.academy.quiz import feedback

    module = default_course().module("privacy-and-disclosure")
    failed = grade_quiz(module, {q.id: None for q in module.quiz})
    shown = feedback(failed, pass_percent=70)
    assert shown["revealed"] is False
    assert all("expected" not in q for q in shown["questions"])
    assert {q["feedback"] for q in shown["questions"]} == {"Not answered."}
    assert feedback(failed, pass_percent=70, passed_before=True)["revealed"] is True
    passed = feedback(grade_quiz(module, {q.id: q.answer for q in module.quiz}), pass_percent=70)
    assert passed["revealed"] is True
    assert all("expected" in q and len(q["feedback"]) > 20 for q in passed["questions"])
