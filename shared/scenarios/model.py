"""The validated, immutable form of a training scenario.

These models are what the web and the worker use. The loader (`loader.py`) turns a
scenario file into a `Scenario`; the part models below double as the schema of the
matching sections of the file, so a field's rules live in one place.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from shared.masking.fiction import MaskingRules, fiction_keys
from shared.scenarios.keywords import keyword_alternatives

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
TYPE_NAME_PATTERN = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")


def is_plain_filename(name: str) -> bool:
    """True for a bare file name: no folder part, no `.`/`..`, not absolute on any OS."""
    if not name or name in {".", ".."} or "\x00" in name:
        return False
    return PurePosixPath(name).name == name and PureWindowsPath(name).name == name


def _check_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    return value


def _check_slug(value: str) -> str:
    if not SLUG_PATTERN.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid slug: use 1-64 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def _check_keyword(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("keyword must not be empty")
    parts = value.split("|")
    if len(keyword_alternatives(value)) != len(parts):
        raise ValueError(f"keyword {value!r} has an empty alternative around '|'")
    return value


def _check_regex(value: str) -> str:
    try:
        compiled = re.compile(value)
    except re.error as error:
        raise ValueError(f"invalid regular expression '{value}': {error}") from None
    # A pattern that can match nothing at all would match everywhere: almost always a typo.
    if compiled.fullmatch("") is not None:
        raise ValueError(f"regular expression '{value}' matches the empty string")
    return value


def _check_filename(value: str) -> str:
    if not is_plain_filename(value):
        raise ValueError(
            f"{value!r} must be a plain file name inside the scenario folder (no '/', no '..', not absolute)"
        )
    return value


def _check_type_name(value: str) -> str:
    if not TYPE_NAME_PATTERN.fullmatch(value):
        raise ValueError(f"{value!r} must be an UPPER_SNAKE_CASE name such as POLICY_NUMBER")
    return value


Text = Annotated[str, AfterValidator(_check_text)]
Slug = Annotated[str, AfterValidator(_check_slug)]
Keyword = Annotated[str, AfterValidator(_check_keyword)]
Regex = Annotated[str, AfterValidator(_check_regex)]
FileName = Annotated[str, AfterValidator(_check_filename)]
TypeName = Annotated[str, AfterValidator(_check_type_name)]
PositiveInt = Annotated[int, Field(strict=True, gt=0)]


class FrozenModel(BaseModel):
    """Immutable and strict about keys: an unknown key is an error, never ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Document(FrozenModel):
    """A Markdown document beside the scenario file that the trainee may consult."""

    filename: FileName
    title: Text


def _plain_words(value: Any) -> Any:
    """A point or pitfall written as a bare string is its `label`: what a trainer would say."""
    return {"label": value} if isinstance(value, str) else value


class Point(FrozenModel):
    """One thing a good reply to a customer line does, in a trainer's words.

    `label` says it plainly ("says the hotel pays for the room next door and the taxi");
    the judge decides by meaning whether a reply does it (shared/training/meaning.py). A
    point may be written as that sentence alone. `criterion` is the rubric criterion it
    counts for (default: the rubric's first). `says` lists optional regular expressions
    (case-insensitive) that are hints: a match outside a negation makes the point
    whatever the meaning check says. `coach` is the advice when a reply misses it and
    `praise` the sentence when it is met; both default to sentences made from `label`."""

    label: Text
    criterion: Text | None = None
    says: tuple[Regex, ...] = ()
    coach: Text | None = None
    praise: Text | None = None
    weight: float = Field(default=1.0, gt=0.0)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return _plain_words(value)


class Pitfall(FrozenModel):
    """Something a trainer takes marks off for: a wrong fact, a forbidden act, a rude tone,
    in a trainer's words (`label`: "says the guest has to pay for the other hotel").

    `severity`: `wrong` (a fact or act that makes the reply wrong; the score is capped at
    WRONG_CAP), `rude` (dismissive or blaming; capped at RUDE_CAP) or `minor` (costs
    MINOR_PENALTY points). `says` patterns are optional hints, as for a point; a match
    inside a negation ("I will never ask for your password") does not count."""

    label: Text
    criterion: Text | None = None
    says: tuple[Regex, ...] = ()
    coach: Text | None = None
    severity: Literal["wrong", "rude", "minor"] = "wrong"

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        return _plain_words(value)


MAX_EXAMPLES = 3
# The criterion that tone pitfalls count against when a scenario has no rubric.
TONE_CRITERION = "Professionalism"
_TONE_NAMES = ("professionalism", "tone", "courtesy", "professional", "empathy")


def tone_criterion(rubric: Any) -> str:
    """The rubric criterion that built-in and rude pitfalls count against: the one named for
    tone or professionalism, else the one with forbidden phrases, else the last;
    TONE_CRITERION when the scenario has no rubric."""
    criteria = tuple(rubric)
    for name in _TONE_NAMES:
        for criterion in criteria:
            if name in criterion.name.casefold():
                return criterion.name
    with_forbidden = [criterion for criterion in criteria if criterion.forbidden]
    if with_forbidden:
        return with_forbidden[0].name
    return criteria[-1].name if criteria else TONE_CRITERION


class BotMessage(FrozenModel):
    """One scripted customer turn: the keywords a good reply to it contains (the upstream
    format, hints to the judge), and optionally the points a good reply makes, the
    pitfalls of this line and up to MAX_EXAMPLES example good replies."""

    content: Text
    expected_keywords: tuple[Keyword, ...] = ()
    points: tuple[Point, ...] = ()
    pitfalls: tuple[Pitfall, ...] = ()
    examples: tuple[Text, ...] = Field(default=(), max_length=MAX_EXAMPLES)


class LLMConfig(FrozenModel):
    """Model settings for a real LLM; `model` None means the deployment's default model."""

    model: Text | None = None
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: PositiveInt = 300


class Completion(FrozenModel):
    """When a session counts as complete."""

    min_exchanges: PositiveInt = 1
    required_keywords: tuple[Keyword, ...] = ()


class Persona(FrozenModel):
    """Who the customer is. `mood` reads best as an adjective phrase ("frustrated")."""

    name: Text
    mood: Text = "neutral"
    background: str = ""
    role: Text | None = None
    company: Text | None = None


class RubricCriterion(FrozenModel):
    """One weighted criterion of the report. Keywords, phrases and forbidden entries use the
    keyword syntax (`a|b` alternatives); patterns are regular expressions."""

    name: Text
    description: str = ""
    weight: float = Field(default=1.0, gt=0.0)
    keywords: tuple[Keyword, ...] = ()
    phrases: tuple[Keyword, ...] = ()
    patterns: tuple[Regex, ...] = ()
    forbidden: tuple[Keyword, ...] = ()


class MaskingPattern(FrozenModel):
    """A scenario-specific kind of personal data to mask, e.g. POLICY_NUMBER."""

    name: TypeName
    regex: Regex


class Scenario(FrozenModel):
    """A loaded scenario. Build it with the loader; `folder` is where its file lives."""

    slug: Slug
    title: Text
    description: Text
    duration_minutes: PositiveInt
    bot_messages: tuple[BotMessage, ...] = ()
    llm_config: LLMConfig = LLMConfig()
    documents: tuple[Document, ...] = ()
    completion: Completion = Completion()
    persona: Persona | None = None
    situation: str = ""
    behaviour: str = ""
    objectives: tuple[Text, ...] = ()
    rubric: tuple[RubricCriterion, ...] = ()
    per_reply_feedback: bool = True
    # The built-in pitfalls (shared/training/tone.py) this scenario switches off, by label,
    # and the ones it rewords: (label, coaching) pairs.
    built_in_pitfalls_off: tuple[str, ...] = ()
    built_in_pitfall_coach: tuple[tuple[str, str], ...] = ()
    idle_timeout_seconds: PositiveInt = 900
    masking_patterns: tuple[MaskingPattern, ...] = ()
    pitfalls: tuple[Pitfall, ...] = ()
    extensions: dict[str, Any] = Field(default_factory=dict)
    folder: Path

    @cached_property
    def masking_rules(self) -> MaskingRules:
        """The masking patterns with the scenario's fiction (shared/masking/fiction.py): what
        every masking call on this scenario's sessions takes."""
        persona = self.persona
        texts = [self.situation, *(message.content for message in self.bot_messages)]
        if persona is not None:
            texts += [persona.background, persona.role or "", persona.company or ""]
        names = [persona.name] if persona is not None else []
        return MaskingRules(self.masking_patterns, fiction_keys(texts, names, self.masking_patterns))

    @property
    def opening_line(self) -> str | None:
        """What the customer says when the session starts, if the script has anything."""
        return self.bot_messages[0].content if self.bot_messages else None

    def public_view(self) -> dict[str, Any]:
        """What a trainee's client may see. Leaves out everything that would give the
        answers away: the script, expected and required keywords, the rubric."""
        persona = None
        if self.persona is not None:
            persona = {"name": self.persona.name, "mood": self.persona.mood, "role": self.persona.role}
            if self.persona.company is not None:
                persona["company"] = self.persona.company
        return {
            "slug": self.slug,
            "title": self.title,
            "description": self.description,
            "duration_minutes": self.duration_minutes,
            "persona": persona,
            "objectives": list(self.objectives),
            "documents": [{"filename": doc.filename, "title": doc.title} for doc in self.documents],
        }

    def document(self, filename: str) -> Document | None:
        """The declared document with this exact file name, or None."""
        return next((doc for doc in self.documents if doc.filename == filename), None)

    def document_path(self, filename: str) -> Path | None:
        """The file of a declared document, or None when the name is not declared, is not a
        plain file name, or resolves (through a symlink, say) outside the scenario folder."""
        if self.document(filename) is None or not is_plain_filename(filename):
            return None
        folder = self.folder.resolve()
        path = (folder / filename).resolve()
        if path.parent != folder or not path.is_file():
            return None
        return path

    def config_json(self) -> dict[str, Any]:
        """The whole configuration as JSON-ready data, for the scenarios table. The folder is
        left out (it is machine-specific and stored as the row's file path);
        `Scenario.model_validate({**config, "folder": folder})` rebuilds the scenario."""
        return self.model_dump(mode="json", exclude={"folder"})
