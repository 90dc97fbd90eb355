"""Reads scenario folders (`<root>/<folder>/scenario.yaml` plus its documents) into
`Scenario` objects, reporting every problem with the file, the field path and the reason.

The file layout of the original ChatTrain (id, title, description, duration_minutes,
bot_messages, llm_config, documents, completion) loads unchanged; the training additions
are all optional. Top-level keys starting with `x-` and the `extensions:` mapping are kept
in `Scenario.extensions`; any other unknown key is an error.
"""

from __future__ import annotations

import datetime
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from shared.scenarios.model import (
    BotMessage,
    Completion,
    Document,
    FrozenModel,
    LLMConfig,
    MaskingPattern,
    Persona,
    Pitfall,
    Point,
    PositiveInt,
    RubricCriterion,
    Scenario,
    Slug,
    Text,
    tone_criterion,
)
from shared.scenarios.plain_words import avoid_from_label, coach_from_label, praise_from_label

SCENARIO_FILENAMES = ("scenario.yaml", "scenario.yml")
EXTENSION_PREFIX = "x-"
ROOT_FIELD = "(root)"
DEFAULT_IDLE_TIMEOUT_SECONDS = 900
# The criterion of a point or pitfall in a scenario without a rubric.
DEFAULT_CRITERION = "Reply"
_MAX_SHOWN_INPUT_CHARS = 60
# Pydantic's wording for these names Python types; authors think in YAML shapes.
_EXPECTED_SHAPE = {
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "dict_type": "a mapping",
    "tuple_type": "a list",
    "list_type": "a list",
}


@dataclass(frozen=True)
class ScenarioError:
    """One problem found in a scenario file."""

    file: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.reason}"


class ScenarioLoadError(Exception):
    """A scenario file could not be loaded; `errors` lists every problem found."""

    def __init__(self, errors: list[ScenarioError]):
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


class _BuiltInPitfallsSection(FrozenModel):
    """`feedback.built_in_pitfalls`: built-ins switched off (`disable`; not `off`, which YAML
    reads as false), or their coaching reworded."""

    disable: tuple[Text, ...] = ()
    coach: dict[str, Text] = Field(default_factory=dict)


class _FeedbackSection(FrozenModel):
    per_reply: bool = Field(default=True, strict=True)
    built_in_pitfalls: _BuiltInPitfallsSection = _BuiltInPitfallsSection()


class _MaskingSection(FrozenModel):
    patterns: tuple[MaskingPattern, ...] = ()


class _ScenarioFile(FrozenModel):
    """The file's own shape; field names are the YAML keys so error paths match the file."""

    id: Slug
    title: Text
    description: Text
    duration_minutes: PositiveInt
    bot_messages: tuple[BotMessage, ...]
    llm_config: LLMConfig = LLMConfig()
    documents: tuple[Document, ...] = ()
    completion: Completion | None = None
    persona: Persona | None = None
    situation: str = ""
    behaviour: str = ""
    objectives: tuple[Text, ...] = ()
    rubric: tuple[RubricCriterion, ...] = ()
    feedback: _FeedbackSection = _FeedbackSection()
    idle_timeout_seconds: PositiveInt = DEFAULT_IDLE_TIMEOUT_SECONDS
    masking: _MaskingSection = _MaskingSection()
    pitfalls: tuple[Pitfall, ...] = ()
    extensions: dict[str, Any] = Field(default_factory=dict)

    @field_validator("bot_messages")
    @classmethod
    def _has_opening_line(cls, messages: tuple[BotMessage, ...]) -> tuple[BotMessage, ...]:
        # A validator rather than min_length: it runs only once every item is valid, so a
        # broken message is not also reported as a missing opening line.
        if not messages:
            raise ValueError("at least one message is needed: the customer's opening line")
        return messages


_TOP_LEVEL_KEYS = tuple(_ScenarioFile.model_fields)


def load_scenario(path: Path) -> Scenario:
    """Load one scenario file (`.../<folder>/scenario.yaml`).

    Raises ScenarioLoadError listing every problem found.
    """
    shown = _display_path(path)
    data = _read_yaml(path, shown)
    odd_keys = [key for key in data if not isinstance(key, str)]
    if odd_keys:
        raise ScenarioLoadError([ScenarioError(shown, repr(key), "keys must be text") for key in odd_keys])
    extension_keys = {key: value for key, value in data.items() if _is_extension_key(key)}
    fields = {key: value for key, value in data.items() if not _is_extension_key(key)}
    try:
        parsed = _ScenarioFile.model_validate(fields)
    except ValidationError as error:
        raise ScenarioLoadError([_from_pydantic(shown, item) for item in error.errors()]) from None

    extensions, errors = _merge_extensions(shown, parsed.extensions, extension_keys)
    errors += _check_documents(shown, path.parent, parsed.documents)
    errors += _check_unique(shown, "rubric", "name", [criterion.name.casefold() for criterion in parsed.rubric])
    errors += _check_criterion_names(shown, parsed)
    errors += _check_built_in_labels(shown, parsed.feedback.built_in_pitfalls)
    errors += _check_unique(shown, "masking.patterns", "name", [pattern.name for pattern in parsed.masking.patterns])
    if errors:
        raise ScenarioLoadError(errors)

    completion = parsed.completion or Completion(min_exchanges=len(parsed.bot_messages))
    return Scenario(
        slug=parsed.id,
        title=parsed.title,
        description=parsed.description,
        duration_minutes=parsed.duration_minutes,
        bot_messages=_completed_lines(parsed),
        llm_config=parsed.llm_config,
        documents=parsed.documents,
        completion=completion,
        persona=parsed.persona,
        situation=parsed.situation.strip(),
        behaviour=parsed.behaviour.strip(),
        objectives=parsed.objectives,
        rubric=parsed.rubric,
        per_reply_feedback=parsed.feedback.per_reply,
        built_in_pitfalls_off=parsed.feedback.built_in_pitfalls.disable,
        built_in_pitfall_coach=tuple(parsed.feedback.built_in_pitfalls.coach.items()),
        idle_timeout_seconds=parsed.idle_timeout_seconds,
        masking_patterns=parsed.masking.patterns,
        pitfalls=tuple(_completed_pitfall(pitfall, parsed.rubric) for pitfall in parsed.pitfalls),
        extensions=extensions,
        folder=path.parent,
    )


def _check_criterion_names(shown: str, parsed: _ScenarioFile) -> list[ScenarioError]:
    """Every point and pitfall names a rubric criterion (case-insensitively), so its
    marks have somewhere to go."""
    names = {criterion.name.casefold() for criterion in parsed.rubric}
    located = [(f"pitfalls.{i}", pitfall) for i, pitfall in enumerate(parsed.pitfalls)]
    for m, message in enumerate(parsed.bot_messages):
        located += [(f"bot_messages.{m}.points.{i}", point) for i, point in enumerate(message.points)]
        located += [(f"bot_messages.{m}.pitfalls.{i}", pitfall) for i, pitfall in enumerate(message.pitfalls)]
    return [
        ScenarioError(shown, f"{field}.criterion", f"{item.criterion!r} is not the name of a rubric criterion")
        for field, item in located
        if item.criterion is not None and item.criterion.casefold() not in names
    ]


def _check_built_in_labels(shown: str, section: _BuiltInPitfallsSection) -> list[ScenarioError]:
    """Every label under `feedback.built_in_pitfalls` names a built-in pitfall."""
    # Imported here: the training package imports the scenario model, which imports this
    # package, so a module-level import would be circular.
    from shared.training.tone import BUILT_IN_PITFALLS

    labels = {pitfall.label for pitfall in BUILT_IN_PITFALLS}
    named = [("disable", label) for label in section.disable] + [("coach", label) for label in section.coach]
    return [
        ScenarioError(
            shown,
            f"feedback.built_in_pitfalls.{where}",
            f"{label!r} is not a built-in pitfall (they are: {', '.join(sorted(labels))})",
        )
        for where, label in named
        if label not in labels
    ]


def _completed_lines(parsed: _ScenarioFile) -> tuple[BotMessage, ...]:
    """The customer lines with every point's and pitfall's criterion, coach and praise
    filled in, for authors who wrote only the label (plain_words.py)."""
    return tuple(
        message.model_copy(
            update={
                "points": tuple(_completed_point(point, parsed.rubric) for point in message.points),
                "pitfalls": tuple(_completed_pitfall(pitfall, parsed.rubric) for pitfall in message.pitfalls),
            }
        )
        for message in parsed.bot_messages
    )


def _completed_point(point: Point, rubric: tuple[RubricCriterion, ...]) -> Point:
    return point.model_copy(
        update={
            "criterion": point.criterion or (rubric[0].name if rubric else DEFAULT_CRITERION),
            "coach": point.coach or coach_from_label(point.label),
            "praise": point.praise or praise_from_label(point.label),
        }
    )


def _completed_pitfall(pitfall: Pitfall, rubric: tuple[RubricCriterion, ...]) -> Pitfall:
    # A rude remark counts against tone; a wrong fact against the rubric's first criterion.
    default = (
        tone_criterion(rubric) if pitfall.severity == "rude" else (rubric[0].name if rubric else DEFAULT_CRITERION)
    )
    return pitfall.model_copy(
        update={"criterion": pitfall.criterion or default, "coach": pitfall.coach or avoid_from_label(pitfall.label)}
    )


def load_scenarios(root: Path) -> tuple[list[Scenario], list[ScenarioError]]:
    """Load every `<root>/*/scenario.yaml` (or `.yml`). A broken file is reported and
    skipped; the others still load. Scenarios come back sorted by slug; a slug already
    taken (folders are read in name order) is an error for the later file."""
    if not root.is_dir():
        return [], [ScenarioError(_display_path(root), ROOT_FIELD, "scenarios folder not found")]

    loaded: dict[str, Scenario] = {}
    loaded_from: dict[str, Path] = {}
    errors: list[ScenarioError] = []
    for path, problem in _scenario_files(root):
        if problem is not None:
            errors.append(problem)
            continue
        try:
            scenario = load_scenario(path)
        except ScenarioLoadError as error:
            errors.extend(error.errors)
            continue
        first = loaded_from.get(scenario.slug)
        if first is not None:
            reason = f"duplicate slug {scenario.slug!r}: already used by {_display_path(first)}"
            errors.append(ScenarioError(_display_path(path), "id", reason))
            continue
        loaded[scenario.slug] = scenario
        loaded_from[scenario.slug] = path
    return sorted(loaded.values(), key=lambda scenario: scenario.slug), errors


def _scenario_files(root: Path) -> list[tuple[Path, ScenarioError | None]]:
    """Each folder's scenario file, with an error instead when a folder holds both names."""
    found: list[tuple[Path, ScenarioError | None]] = []
    for folder in sorted(entry for entry in root.iterdir() if entry.is_dir()):
        present = [folder / name for name in SCENARIO_FILENAMES if (folder / name).is_file()]
        if not present:
            continue
        found.append((present[0], None))
        for ignored in present[1:]:
            reason = f"two scenario files in one folder; only {present[0].name} is used"
            found.append((ignored, ScenarioError(_display_path(ignored), ROOT_FIELD, reason)))
    return found


def _read_yaml(path: Path, shown: str) -> dict[Any, Any]:
    def fail(field: str, reason: str) -> ScenarioLoadError:
        return ScenarioLoadError([ScenarioError(shown, field, reason)])

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise fail(ROOT_FIELD, "file not found") from None
    except UnicodeDecodeError as error:
        raise fail(ROOT_FIELD, f"not valid UTF-8 ({error.reason} at byte {error.start})") from None
    except OSError as error:
        raise fail(ROOT_FIELD, f"cannot read file: {error.strerror or error}") from None
    try:
        data = _parse_yaml(text)
    except yaml.YAMLError as error:
        raise fail(ROOT_FIELD, _describe_yaml_error(error)) from None
    if data is None:
        raise fail(ROOT_FIELD, "file is empty")
    if not isinstance(data, dict):
        raise fail(ROOT_FIELD, f"expected a mapping of keys at the top level, got {_type_name(data)}")
    return data


def _parse_yaml(text: str) -> Any:
    """The safe loader on libyaml's parser when PyYAML has it (a shipped scenario parses
    many times faster, and every web and worker start-up reads each one); where
    libyaml refuses the text, the pure-Python parser reads it again, so what loads and
    what an error says do not depend on how PyYAML was built."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # noqa: S506 (a safe loader)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def _describe_yaml_error(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    reason = f"invalid YAML{_at(getattr(error, 'problem_mark', None))}: {problem}"
    context = getattr(error, "context", None)
    if context:
        reason += f" ({context}{_at(getattr(error, 'context_mark', None), 'that starts')})"
    return reason


def _at(mark: Any, lead: str = "") -> str:
    if mark is None:
        return ""
    # PyYAML marks are 0-based; editors count from 1.
    where = f"at line {mark.line + 1}, column {mark.column + 1}"
    return f" {lead} {where}" if lead else f" {where}"


def _is_extension_key(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(EXTENSION_PREFIX)


def _merge_extensions(
    shown: str, declared: dict[str, Any], prefixed: dict[str, Any]
) -> tuple[dict[str, Any], list[ScenarioError]]:
    """Combine `extensions:` and top-level `x-` keys into JSON-ready data."""
    errors: list[ScenarioError] = []
    merged: dict[str, Any] = {}
    for source, entries in (("extensions", declared), ("", prefixed)):
        for key, value in entries.items():
            field = f"{source}.{key}" if source else str(key)
            if not isinstance(key, str):
                errors.append(ScenarioError(shown, field, "extension keys must be strings"))
                continue
            if key in merged:
                errors.append(
                    ScenarioError(shown, field, f"{key!r} is given both as a top-level key and under extensions")
                )
                continue
            try:
                merged[key] = _json_ready(value, field)
            except _NotJsonReady as problem:
                errors.append(ScenarioError(shown, problem.field, problem.reason))
    return merged, errors


class _NotJsonReady(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _json_ready(value: Any, field: str) -> Any:
    """Extension data is stored as JSON; YAML dates become ISO strings, other non-JSON
    values are refused rather than silently mangled."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_json_ready(item, f"{field}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict):
        ready = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotJsonReady(f"{field}.{key}", "keys inside extensions must be strings")
            ready[key] = _json_ready(item, f"{field}.{key}")
        return ready
    raise _NotJsonReady(field, f"value of type {_type_name(value)} cannot be stored as JSON")


def _check_documents(shown: str, folder: Path, documents: tuple[Document, ...]) -> list[ScenarioError]:
    errors: list[ScenarioError] = []
    seen: set[str] = set()
    resolved_folder = folder.resolve()
    for index, document in enumerate(documents):
        field = f"documents[{index}].filename"
        if document.filename in seen:
            errors.append(ScenarioError(shown, field, f"duplicate document {document.filename!r}"))
            continue
        seen.add(document.filename)
        path = (resolved_folder / document.filename).resolve()
        if path.parent != resolved_folder:
            errors.append(ScenarioError(shown, field, f"{document.filename!r} resolves outside the scenario folder"))
        elif not path.is_file():
            errors.append(
                ScenarioError(shown, field, f"document file {document.filename!r} not found beside the scenario file")
            )
    return errors


def _check_unique(shown: str, section: str, attribute: str, values: list[str]) -> list[ScenarioError]:
    errors: list[ScenarioError] = []
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            errors.append(ScenarioError(shown, f"{section}[{index}].{attribute}", f"duplicate {attribute} {value!r}"))
        seen.add(value)
    return errors


def _from_pydantic(shown: str, item: dict[str, Any]) -> ScenarioError:
    location = tuple(item["loc"])
    field = _field_path(location) or ROOT_FIELD
    kind = item["type"]
    if kind == "missing":
        reason = "field required"
    elif kind == "extra_forbidden":
        reason = _unknown_key_reason(location)
    elif kind in _EXPECTED_SHAPE:
        reason = f"expected {_EXPECTED_SHAPE[kind]} (got {_describe_input(item.get('input'))})"
    else:
        message = item["msg"].removeprefix("Value error, ")
        reason = message[:1].lower() + message[1:]
        if kind not in {"value_error", "assertion_error"}:
            reason += f" (got {_describe_input(item.get('input'))})"
    return ScenarioError(shown, field, reason)


def _unknown_key_reason(location: tuple[Any, ...]) -> str:
    key = str(location[-1])
    reason = "unknown field"
    if len(location) == 1:
        close = difflib.get_close_matches(key, _TOP_LEVEL_KEYS, n=1)
        if close:
            reason += f" (did you mean {close[0]!r}?)"
        reason += "; put custom data under 'extensions:' or in a key starting with 'x-'"
    return reason


def _field_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _describe_input(value: Any) -> str:
    if isinstance(value, str) and len(value) > _MAX_SHOWN_INPUT_CHARS:
        return repr(value[:_MAX_SHOWN_INPUT_CHARS] + "...")
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    return _type_name(value)


def _type_name(value: Any) -> str:
    return {list: "a list", dict: "a mapping", str: "a string"}.get(type(value), type(value).__name__)


def _display_path(path: Path) -> str:
    """The path as given, or relative to the working directory when it lies inside it,
    so messages read `scenarios/x/scenario.yaml` in the usual case."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)
