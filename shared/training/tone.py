"""Pitfalls every scenario has, whatever its authors wrote: a dismissive or blaming tone,
asking the customer for a secret, and repeating one back.

They are written as the scenario's own pitfalls are (shared/scenarios/model.py:Pitfall),
with `criterion` left as TONE_CRITERION; the judge files them under the scenario's tone
criterion (tone_criterion below). A match inside a negation does not count ("I will never
ask for your password").
"""

from __future__ import annotations

import re

from shared.scenarios.model import TONE_CRITERION, Pitfall, tone_criterion

__all__ = ["BUILT_IN_PITFALLS", "TAKES_OFFERED_SECRET", "TONE_CRITERION", "offers_secret", "tone_criterion"]


# A request verb, then within a few words something only the customer should know.
_SECRET = (
    r"(?:password|full card number|card number|long card number|cvv|cvc|"
    r"security code|api key|secret key|live key|signing secret|webhook secret|private key|credentials?)"
)
_ASK = (
    r"(?:(?:send|give|tell|e-?mail|paste|type|read out|post|DM)(?: it)? (?:me|us)|share|provide|need|require|"
    r"confirm|what(?:'s| is) your)"
)

# The words between the request and the secret: no question about which one ("tell me
# which signing secret you verify with"), no negation ("we need IDs, never credentials"),
# no clause break and no reset ("confirm the account, then we reset the password").
_GAP = r"(?:(?!\b(?:which|when|whether|never|not|no|reset|change|update|new|then)\b)[^.?!,;]){0,40}"

# The built-in pitfall that counts only when the customer offers a secret.
TAKES_OFFERED_SECRET = "takes a card number or secret the customer offers"
# The customer offers one: "I can read you my card number", "here's my password".
_OFFERED = re.compile(
    rf"\b(?:read|give|send|tell|type|paste|share|take|here['’]?s|here is)\b[^.?!]{{0,30}}\b(?:{_SECRET}s?|PIN)\b",
    re.IGNORECASE,
)
_REFUSES = re.compile(
    r"\b(?:don['’]?t|do not|never|no need|can['’]?t|cannot|won['’]?t|please keep|keep (?:it|them) to yourself)\b",
    re.IGNORECASE,
)


def offers_secret(customer_line: str, reply: str) -> bool:
    """Whether the customer's line offers a secret and the reply refuses nothing: when
    TAKES_OFFERED_SECRET applies."""
    return bool(_OFFERED.search(customer_line)) and not _REFUSES.search(reply)


BUILT_IN_PITFALLS: tuple[Pitfall, ...] = (
    Pitfall(
        criterion=TONE_CRITERION,
        label="asks for a secret",
        says=(rf"\b{_ASK}\b{_GAP}\b{_SECRET}s?\b",),
        coach=(
            "Never ask the customer for a password, a full card number or a secret key; "
            "verify them with the details the policy names."
        ),
        severity="wrong",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="sends a card number or secret",
        says=(
            rf"\b(?:send|sent|sending|e-?mail\w*|text\w*|write|wrote|post\w*|read out)\b{_GAP}\b(?:your |the )?"
            r"(?:full|whole|complete|long|16-digit) (?:card|credit card|debit card) number\b",
            r"\[CARD[A-Z_0-9]*\]",
        ),
        coach="Never send or read out a full card number or a secret; refer to the last four digits only.",
        severity="wrong",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label=TAKES_OFFERED_SECRET,
        # Only where the customer's line offers a secret (offers_secret below), and only in a
        # reply that refuses nothing: "Go ahead and read it out" takes the card number.
        says=(
            r"\bgo ahead\b",
            r"\b(?:yes|sure|ok(?:ay)?|of course|great|perfect)\b[,!.]?\s+(?:please\s+)?"
            r"(?:send|read|type|give|share|pop|tell|paste)\b",
            r"\bplease (?:send|read|type|give|share|tell|paste)\b",
            r"\b(?:send|read|type|give|pop|paste|tell me) (?:it|them|that|those)\b",
            r"\bI(?:['’]ll| will| can) take (?:it|them|that|those|the (?:card|number|details|payment))\b",
        ),
        coach=(
            "Stop the customer before they share a card number, password or secret in the chat, "
            "and say how they can do it safely instead."
        ),
        severity="wrong",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="repeats a secret",
        says=(r"\b(?:sk|rk|pk|rp|whsec)_(?:live|test)_[a-z0-9]{6,}", r"\[(?:API_KEY|SECRET|PASSWORD)[A-Z_0-9]*\]"),
        coach="Never repeat a secret the customer pasted; tell them to replace it and do not use it.",
        severity="wrong",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="dismisses the customer",
        says=(
            r"\bcalm down\b",
            r"\bnot the end of the world\b",
            r"\bno big deal\b",
            r"\bit['’]?s only\b[^.?!]{0,25}\b(?:dollars|euros|pounds|orders|minutes|\d+)",
            r"\b(?:okay|ok),\s*(?:okay|ok)\b",
            r"\bsnippy\b",
            r"\bget to it when we get to it\b",
            r"\bI['’]?m not going to (?:argue|debate|discuss this|repeat)\b",
            r"\bI['’]?ve (?:literally |already )?just told you\b",
            r"\bnot sure why you['’]?d (?:think|expect|assume)\b",
            r"\b(?:panicking|shouting|getting upset|getting angry) (?:isn['’]?t|won['’]?t|doesn['’]?t) (?:going to )?help\b",
            r"\b(?:lots of|most|plenty of|other) people (?:manage|cope|get by)\b",
            r"\bthat['’]?s (?:literally )?what (?:the counter|the desk|I|we|they) (?:already )?(?:told|said)\b",
            r"\bwhy would you (?:need|want)\b",
            r"\bdeal with it\b",
            r"\bwhatever you (?:say|want)\b",
            r"\b(?:you['’]?re|you are|that['’]?s) (?:being )?(?:ridiculous|silly|overreacting|dramatic)\b",
            r"(?:^|[.!?]\s+)(?:just )?(?:relax|chill)(?: out)?[.!,]",
            r"\b(?:isn['’]?t|is not) how (?:this|it) works\b",
            r"\bthat['’]?s (?:just )?how it (?:is|works)\b",
            r"\bnothing (?:I|we) can do\b",
            r"\bnot (?:my|our) (?:problem|job|department|fault)\b",
            r"\b(?:your|the) bank['’]?s (?:thing|problem)\b",
            r"\b(?:I|we) (?:already )?told you\b",
            r"\bas I (?:already )?(?:said|mentioned)\b",
            r"\beverybody else manages\b",
            r"\bjust have to wait\b",
            r"\byou['’]?ll have to wait\b",
            r"\b(stop|quit) (complaining|worrying|panicking|shouting)\b",
            r"\bget over it\b",
            r"\bthat['’]?s life\b",
            r"\btake it or leave it\b",
            r"\btoo bad\b",
            r"\btough luck\b",
            r"\bI don['’]?t know what (else )?to tell you\b",
            r"\bwhat do you (want|expect) me to do\b",
            r"\bnot my concern\b",
            r"\b(I|we) don['’]?t care\b",
            r"\bif you say so\b",
            r"\bI['’]?m busy\b",
            r"\blike I said\b",
            r"\bas I (already )?explained\b",
            r"\bfor the last time\b",
            r"\bno need to (shout|be rude|get (so )?(upset|worked up|angry))\b",
            r"\bany idiot\b",
            r"\bit['’]?s (really )?(easy|simple|basic)\b",
            r"\bit['’]?s not (?:that )?(?:complicated|hard|difficult|rocket science)\b",
        ),
        coach="Take the customer's worry seriously; acknowledge it instead of brushing it off.",
        severity="rude",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="blames the customer",
        says=(
            # "you should have read it", not "you should have that by Friday"
            r"\byou should(?:['’]ve| have) (?:been|known|read|checked|called|rung|done|asked|looked|sent|paid|tried|used|"
            r"noticed|seen|kept|waited|contacted|updated|followed|saved|written|logged|reset|changed|thought|"
            r"realised|realized|listened|booked|reported|remembered|told)\b",
            r"\byour (?:own )?fault\b",
            r"\b(?:is|it['’]?s|that['’]?s) your (?:job|responsibility|problem)\b",
            r"\bthat['’]?s on you\b",
            r"\byou (?:probably|must have|obviously) (?:typed|broke|did|forgot|made|messed|changed|got)\b",
            r"\bif you['’]?d (?:bothered|read|looked|checked|paid attention)\b",
            r"\bbothered to\b",
            r"\b(?:didn['’]?t|did not|couldn['’]?t|can['’]?t) (?:even )?(?:be )?bother(?:ed)?\b",
            r"\brookie\b",
            r"\blike every(?:one|body) else\b",
            r"\bpeople (?:just )?(?:don['’]?t|never) (?:look|read|check)\b",
            r"\bnobody (?:reads|checks|looks)\b",
            r"\b(?:checking|doing it|implemented it) wrong\b",
            r"\byou just pasted\b",
            r"\bknown better\b",
            r"\bevery(?:one|body) says\b",
            r"\byour own (?:implementation|code|fault|mistake)\b",
            r"\bit['’]?s all in the (?:docs|documentation|notice|faq)\b",
            r"\bread the (?:docs|notice|manual|faq|documentation)\b",
            r"\byour (own )?(mistake|error|problem|doing)\b",
            r"\buser error\b",
            r"\byou (didn['’]?t|did not|failed to|forgot to|never) (read|check|follow|update|look|pay attention)",
            r"\byou (ignored|missed) (the|our)\b",
            r"\bwe (told|warned|notified) you\b",
            r"\byou were (told|warned|notified)\b",
            r"\bwhy (would|did) you\b",
            r"\bnot (on )?us\b",
            r"\bwe did our part\b",
            r"\byou could(?:['’]?ve| have) (?:phoned|called|checked|read|asked|looked|rung)\b",
            r"\bwhat did you expect\b",
            r"\bnot sure what you expected\b",
            r"\bwas never going to (?:help|work)\b",
        ),
        coach="Leave blame out; say what happened and what you are doing about it.",
        severity="rude",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="changes the subject",
        says=(
            r"\bdid you know\b",
            r"\bhave you tried our\b",
            r"\bwhile we.re at it\b",
            r"\b\d+ ?% off\b",
            r"\b(survey|questionnaire|rate (your|our|us|the)\b)",
            r"\bnew (analytics|features?|collection|range|product)\b",
        ),
        coach="Stay with the customer's problem; a sales pitch or a survey now tells them you are not listening.",
        severity="wrong",
    ),
    Pitfall(
        criterion=TONE_CRITERION,
        label="impatient tone",
        says=(r"\bobviously\b", r"\bseriously\?", r"\bfrankly\b", r"^\s*(?:look|listen|honestly),"),
        coach="Keep the tone warm and patient, even when the customer is curt.",
        severity="minor",
    ),
)
