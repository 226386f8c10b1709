"""Courses and their modules: Markdown files with the quiz in YAML front matter, loaded and checked at start-up.

Why front matter: a module's text and its quiz change together, so they live in one file that a reviewer reads top
to bottom; the loader validates every question (a single-choice answer that is not among the options, a numeric
question without tolerance…) so a broken quiz fails loudly when the course is loaded, never when a trainee
submits. The course itself (order of modules, pass mark, exercises) is ``content/course.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from chainsleuth.academy.markdown import render_markdown
from chainsleuth.errors import InvalidInputError, NotFoundError

CONTENT_DIR = Path(__file__).resolve().parent / "content"
QUESTION_TYPES = ("single", "multiple", "numeric")


@dataclass(frozen=True)
class Question:
    """One quiz question. ``answer`` is an option key (single), a list of keys (multiple) or a number."""

    id: str
    type: str
    prompt: str
    explanation: str
    options: dict[str, str] = field(default_factory=dict)
    answer: Any = None
    tolerance: float = 0.0
    unit: str = ""
    points: float = 1.0

    def public(self) -> dict[str, Any]:
        """The question as a trainee sees it: without the answer and the explanation."""
        shown: dict[str, Any] = {"id": self.id, "type": self.type, "prompt": self.prompt, "points": self.points}
        if self.options:
            shown["options"] = dict(self.options)
        if self.unit:
            shown["unit"] = self.unit
        return shown


@dataclass(frozen=True)
class Module:
    """One course module: Markdown text and the quiz that ends it."""

    id: str
    title: str
    minutes: int
    markdown: str
    quiz: tuple[Question, ...]

    @property
    def html(self) -> str:
        return render_markdown(self.markdown)

    def question(self, question_id: str) -> Question:
        for question in self.quiz:
            if question.id == question_id:
                return question
        raise NotFoundError("no such question", module=self.id, question=question_id)


@dataclass(frozen=True)
class Course:
    """A course: ordered modules, the exercises that go with it, and the marks needed for a certificate."""

    id: str
    title: str
    description: str
    modules: tuple[Module, ...]
    exercises: tuple[str, ...]
    quiz_pass_percent: float
    exercise_pass_percent: float

    def module(self, module_id: str) -> Module:
        for module in self.modules:
            if module.id == module_id:
                return module
        raise NotFoundError("no such course module", course=self.id, module=module_id)


def _question(raw: dict[str, Any], where: str) -> Question:
    qid, qtype = str(raw.get("id", "")), str(raw.get("type", ""))
    if not qid or qtype not in QUESTION_TYPES:
        raise InvalidInputError(f"{where}: every question needs an id and a type in {QUESTION_TYPES}", raw=raw)
    options = {str(k): str(v) for k, v in (raw.get("options") or {}).items()}
    answer = raw.get("answer")
    if qtype == "single" and str(answer) not in options:
        raise InvalidInputError(f"{where}/{qid}: the answer must be one of the options")
    if qtype == "multiple":
        if not isinstance(answer, list) or not answer or any(str(a) not in options for a in answer):
            raise InvalidInputError(f"{where}/{qid}: the answer must be a non-empty list of option keys")
        answer = sorted(str(a) for a in answer)
    if qtype == "numeric":
        if not isinstance(answer, int | float) or "tolerance" not in raw:
            raise InvalidInputError(f"{where}/{qid}: a numeric question needs a numeric answer and a tolerance")
        answer = float(answer)
    if qtype == "single":
        answer = str(answer)
    return Question(
        id=qid,
        type=qtype,
        prompt=str(raw.get("prompt", "")).strip(),
        explanation=str(raw.get("explanation", "")).strip(),
        options=options,
        answer=answer,
        tolerance=float(raw.get("tolerance", 0.0)),
        unit=str(raw.get("unit", "")),
        points=float(raw.get("points", 1.0)),
    )


def parse_module(text: str, where: str = "module") -> Module:
    """Parse one module file: ``---`` YAML front matter ``---`` then the Markdown body."""
    if not text.startswith("---\n"):
        raise InvalidInputError(f"{where}: a module starts with YAML front matter between --- lines")
    try:
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as error:
        raise InvalidInputError(f"{where}: unreadable front matter: {error}") from error
    quiz = tuple(_question(q, where) for q in meta.get("quiz") or [])
    if not quiz:
        raise InvalidInputError(f"{where}: every module ends with a quiz")
    if len({q.id for q in quiz}) != len(quiz):
        raise InvalidInputError(f"{where}: question ids must be unique")
    return Module(
        id=str(meta["id"]),
        title=str(meta["title"]),
        minutes=int(meta.get("minutes", 20)),
        markdown=body.strip() + "\n",
        quiz=quiz,
    )


def load_course(content_dir: Path = CONTENT_DIR) -> Course:
    """Load and validate the course in ``content_dir`` (``course.yaml`` plus one Markdown file per module)."""
    meta = yaml.safe_load((content_dir / "course.yaml").read_text(encoding="utf-8"))
    modules = tuple(
        parse_module((content_dir / name).read_text(encoding="utf-8"), where=name) for name in meta["modules"]
    )
    if len({m.id for m in modules}) != len(modules):
        raise InvalidInputError("module ids must be unique")
    return Course(
        id=str(meta["id"]),
        title=str(meta["title"]),
        description=str(meta.get("description", "")).strip(),
        modules=modules,
        exercises=tuple(str(e) for e in meta.get("exercises", [])),
        quiz_pass_percent=float(meta.get("quiz_pass_percent", 70)),
        exercise_pass_percent=float(meta.get("exercise_pass_percent", 60)),
    )


@lru_cache(maxsize=1)
def default_course() -> Course:
    """The packaged course (loaded once per process)."""
    return load_course()


def courses() -> list[Course]:
    """All packaged courses (one today; the API and CLI are written for several)."""
    return [default_course()]


def get_course(course_id: str) -> Course:
    for course in courses():
        if course.id == course_id:
            return course
    raise NotFoundError("no such course", course=course_id)
