"""Sentences made from a point's or pitfall's label, for authors who write only the label.

A label says what a reply does, in the third person ("apologises for the lost booking",
"says the hotel pays for the taxi"). Coaching turns it into an instruction ("Apologise for
the lost booking."), praise into a statement about the reply ("You apologised for the lost
booking."), and a pitfall's advice into a warning ("Do not say the guest must pay.").
"""

from __future__ import annotations

_IRREGULAR_PAST = {
    "is": "were",
    "has": "had",
    "does": "did",
    "says": "said",
    "gives": "gave",
    "tells": "told",
    "makes": "made",
    "takes": "took",
    "sends": "sent",
    "gets": "got",
    "keeps": "kept",
    "finds": "found",
    "leaves": "left",
    "brings": "brought",
    "holds": "held",
    "puts": "put",
    "sets": "set",
    "lets": "let",
    "pays": "paid",
    "buys": "bought",
    "meets": "met",
    "thinks": "thought",
    "knows": "knew",
    "shows": "showed",
    "rings": "rang",
    "writes": "wrote",
}
_IRREGULAR_BASE = {"is": "be", "has": "have", "does": "do", "goes": "go"}


def base_form(verb: str) -> str:
    """`apologises` -> `apologise`, `offers` -> `offer`, `carries` -> `carry`."""
    lower = verb.casefold()
    if lower in _IRREGULAR_BASE:
        return _IRREGULAR_BASE[lower]
    if lower.endswith("ies") and len(lower) > 4:
        return verb[:-3] + "y"
    if lower.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return verb[:-2]
    if lower.endswith("s") and not lower.endswith("ss"):
        return verb[:-1]
    return verb


def past_form(verb: str) -> str:
    """`apologises` -> `apologised`, `offers` -> `offered`, `says` -> `said`."""
    lower = verb.casefold()
    if lower in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[lower]
    base = base_form(verb)
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and len(base) > 2 and base[-2] not in "aeiou":
        return base[:-1] + "ied"
    return base + "ed"


def _split(label: str) -> tuple[str, str]:
    words = label.strip().rstrip(".!;:, ").split(maxsplit=1)
    return (words[0], words[1] if len(words) > 1 else "") if words else ("", "")


def _sentence(*parts: str) -> str:
    text = " ".join(part for part in parts if part)
    return text[:1].upper() + text[1:] + "."


def coach_from_label(label: str) -> str:
    """The instruction a trainee who missed the point reads."""
    verb, rest = _split(label)
    return _sentence(base_form(verb), rest)


def praise_from_label(label: str) -> str:
    """What a trainee who made the point reads."""
    verb, rest = _split(label)
    return _sentence("You", past_form(verb), rest)


def avoid_from_label(label: str) -> str:
    """The advice for a trainee who fell into the pitfall."""
    verb, rest = _split(label)
    return _sentence("Do not", base_form(verb).casefold(), rest)


# How an agent says what a label describes, for the verbs labels start with: the judge
# compares replies with this spoken form as well as with the label ("apologises for the
# wait" is said "I'm sorry for the wait").
_SPOKEN = {
    "apologises": "I'm sorry",
    "apologizes": "I'm sorry",
    "thanks": "thank you",
    "acknowledges": "I understand",
    "empathises": "I understand",
    "empathizes": "I understand",
    "asks": "could you tell me",
    "offers": "I can offer",
    "confirms": "I can confirm",
    "promises": "I promise",
    "reassures": "don't worry",
    "explains": "",
    "says": "",
    "tells": "",
    "states": "",
    "mentions": "",
}


def spoken_form(label: str) -> str | None:
    """The label as an agent would say it, or None when its verb is not one we know."""
    verb, rest = _split(label)
    spoken = _SPOKEN.get(verb.casefold())
    if spoken is None:
        return None
    if verb.casefold() == "asks" and rest.startswith("for "):
        rest = rest[4:]
    if verb.casefold() in ("tells", "reassures") and " " in rest:
        # "tells Sam to keep it" -> "keep it"; "tells her the card works" -> "the card works"
        head, tail = rest.split(" ", 1)
        rest = tail[3:] if tail.startswith("to ") else tail
    return " ".join(part for part in (spoken, rest) if part)


# Speech acts so short that word vectors miss them ("Forgive us" for "apologises for the
# booking"): a label starting with one of these verbs takes these patterns as hints.
_SPEECH_ACTS = {
    "apologises": (r"\b(?:sorry|apologi[sz]\w*|apologies|forgive|regret\w*)\b",),
    "apologizes": (r"\b(?:sorry|apologi[sz]\w*|apologies|forgive|regret\w*)\b",),
    "thanks": (r"\b(?:thank\w*|cheers|appreciate\w*|grateful)\b",),
}


def speech_act_hints(label: str) -> tuple[str, ...]:
    """Patterns that make a point whose label starts with a speech act (apologises,
    thanks), for points written without `says`."""
    verb, _ = _split(label)
    return _SPEECH_ACTS.get(verb.casefold(), ())
