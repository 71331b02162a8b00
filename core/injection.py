"""Injected instructions: a score for how much a text (a question, a retrieved passage) reads as instructions to
the assistant rather than as content, and the reason, for the stores whose policy checks it.

Two kinds of evidence, each with its own reason:
- LiteLLM's prompt-injection hook (`_OPTIONAL_PromptInjectionDetection`) ships the phrase family of "ignore the
  previous instructions" (11 verbs x 8 adjectives x 5 endings). Its own check slides every phrase over every
  character, hundreds of thousands of comparisons for one passage; here the same phrases are compared, with the same
  `SequenceMatcher` ratio, only at the word starts where one of its verbs begins, which finds the same matches.
- Heuristics that need no model, each for a reason a person can check: instructions addressed to the assistant
  ("you are now ...", "as an AI ...", "tell the user to ..."), chat-role markers that only a prompt carries
  (`<|im_start|>`, `[INST]`, "### System:"), requests to reveal the prompt or keys, and invisible characters
  (zero-width, bidirectional overrides, Unicode tag characters) that hide text from the person reading the page.
  Ordinary filings and papers address "you" as the reader ("you should read"), never as "the assistant", so the
  heuristics name the assistant, its rules or a chat role before they count.

The score is the strongest evidence found (0 to 1); a text fails at the policy's threshold (default 0.7, LiteLLM's).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import cache, lru_cache

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 0.7  # LiteLLM's DEFAULT_PROMPT_INJECTION_SIMILARITY_THRESHOLD
MAX_CHARS = 20_000  # a longer text is checked on its first and last parts (a passage is far shorter)

# Stated without a verb's own words: the pattern says who is addressed, the reason says why it counts.
ASSISTANT = r"(?:assistant|a\.?i\.?|chat\s?bot|chatgpt|gpt|claude|llm|language model|model|copilot|bot)"
RULES: tuple[tuple[float, str, re.Pattern[str]], ...] = (
    (
        0.95,
        "a chat-role marker that only a prompt carries",
        re.compile(
            r"<\|(?:im_start|im_end|system|user|assistant|endoftext)\|>|\[/?INST\]|<</?SYS>>|"
            r"^\s*#{2,}\s*(?:system|instruction|instructions)\s*:?\s*$|"
            r"^\s*(?:system|assistant)\s*(?:prompt)?\s*:\s*(?:you|ignore|forget|from now)",
            re.I | re.M,
        ),
    ),
    (
        0.9,
        "instructions addressed to the assistant",
        re.compile(
            rf"\b(?:you are|you're|act as|pretend to be|behave as|role-?play as)\s+(?:now\s+)?(?:an?\s+|the\s+|my\s+)?"
            rf"(?:[\w,]+\s+){{0,3}}?{ASSISTANT}\b|"
            rf"\b(?:as|to) (?:an?|the) (?:ai|assistant|language model|chat\s?bot|llm)\b[^.]{{0,60}}\b(?:you|your) (?:must|should|will|are)\b|"
            rf"\b(?:dear|attention|note to|hey|hello)\s+(?:the\s+)?(?:ai|assistant|chat\s?bot|llm|language model|{ASSISTANT})\b|"
            r"\b(?:ai|assistant|chat\s?bot|llm|language model)s?\s*(?:systems?\s|models?\s|tools?\s|agents?\s)?"
            r"(?:reading|processing|summari[sz]ing|analy[sz]ing) (?:this|these)\b",
            re.I,
        ),
    ),
    (
        0.9,
        "an order about what to tell the user",
        re.compile(
            r"\b(?:tell|inform|instruct|advise|urge|convince|persuade) the user (?:to|that)\b|"
            r"\b(?:respond|reply|answer) (?:only |always )?(?:with|by saying|that)\b[^.]{0,40}\b(?:regardless|no matter|whatever)\b|"
            r"\b(?:in your (?:answer|response|reply|summary)|when (?:you )?(?:answer|respond)(?:ing)?),? (?:always |you must |say|include|recommend|tell)",
            re.I,
        ),
    ),
    (
        0.9,
        "instructions about the assistant's own rules",
        re.compile(
            r"\b(?:new|updated|override|overriding|real|true|secret|hidden) (?:system )?(?:instructions|directives|rules)\b"
            r"[^.]{0,40}\b(?:are|follow|below|:)|"
            r"\b(?:your|the) (?:previous|prior|original|earlier|system) (?:instructions|prompt|rules|directives)\b|"
            r"\b(?:developer|dan|god|jailbreak|unrestricted) mode\b|\bjailbreak\b",
            re.I,
        ),
    ),
    (
        0.9,
        "a request to reveal the prompt or secrets",
        re.compile(
            r"\b(?:reveal|print|show|repeat|output|leak|disclose|display|send|share|tell me|write out)\b[^.]{0,30}\b"
            r"(?:system prompt|your (?:prompt|instructions|rules)|the (?:prompt|instructions) (?:above|you were given)|"
            r"(?:api|secret|access) keys?|passwords?|credentials)\b",
            re.I,
        ),
    ),
)
OBJECT = re.compile(  # what an injection asks to be ignored: the assistant's instructions, not a year's amounts
    r"\b(?:instruct\w*|rules?|prompts?|directions|guidelines?|directives?|guardrails?|context|everything|anything|"
    r"all (?:of )?(?:the |your )?(?:above|previous|prior|earlier)|"
    r"(?:start|begin)\w* (?:over|anew|afresh|from scratch))\b",
    re.I,
)
IGNORE = re.compile(
    r"\b(?:ignore|disregard|forget|skip|bypass|override|overlook|neglect|omit|do not (?:follow|obey))\s+"
    r"(?:(?:all|any|each|every|the|your|my|of|these|those|above|previous|prior|preceding|earlier|initial|"
    r"original|system|safety|other)\s+){0,4}"
    r"(?:instructions?|rules|prompts?|directions|guidelines|directives|guardrails|everything|anything)\b",
    re.I,
)
IGNORE_SCORE = 0.95
OBJECT_REACH = 60  # characters before the object where the phrase may begin
# Direction marks (U+200E/F) and joiners inside words are ordinary in many scripts: only runs of zero-width
# characters, direction overrides and Unicode tag characters (which spell ASCII no one sees) count.
INVISIBLE = re.compile("[\u200b\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069\U000e0000-\U000e007f]")
TAGS = re.compile("[\U000e0020-\U000e007e]+")
INVISIBLE_SCORE = 0.75  # text a reader cannot see: hidden words, or a bidirectional trick
INVISIBLE_MIN = 4  # a stray zero-width space or two (copied web text) is not hiding anything
INVISIBLE_REASON = "characters a reader cannot see (zero-width, direction overrides or tags)"
HIDDEN_REASON = "hidden text a reader cannot see (Unicode tag characters)"
IGNORE_REASON = "a request to ignore the instructions"
PHRASE_REASON = "a request to ignore the instructions (LiteLLM's phrase check: {ratio:.2f} like “{phrase}”)"


@dataclass(frozen=True)
class Verdict:
    """How much a text reads as injected instructions (0 to 1), why, and the words that show it."""

    score: float = 0.0
    reason: str = ""
    evidence: str = ""

    def fails(self, threshold: float) -> bool:
        return self.score >= threshold and self.score > 0


@cache
def _phrases() -> dict[str, tuple[str, ...]]:
    """LiteLLM's injection phrases (lower case), grouped by their first word."""
    from core import llm  # on first use: core.llm's own imports need this module's users loaded first

    try:
        phrases = llm.injection_phrases()
    except Exception:  # LiteLLM's proxy hook moved or failed to import: the heuristics still check
        log.warning("LiteLLM's prompt-injection phrases could not be loaded; the heuristics check alone", exc_info=True)
        phrases = []
    grouped: dict[str, list[str]] = {}
    for phrase in phrases:
        if phrase in BARE:
            continue
        grouped.setdefault(phrase.split()[0], []).append(phrase)
    return {word: tuple(p) for word, p in grouped.items()}


BARE = {"pay no attention to", "do not follow", "do not obey"}  # a verb alone: ordinary English ("do not obey the law")
WORD_START = re.compile(r"\b\w")


def phrase_score(text: str) -> tuple[float, str]:
    """The best `SequenceMatcher` ratio of a LiteLLM injection phrase against the text, and the phrase: compared at
    the word starts shortly before something an injection asks to be ignored (instructions, rules, the prompt,
    everything above). LiteLLM's bare verbs ("do not follow", "pay no attention to") are ordinary English without
    such an object: a filing's "do not rely on" is not an injection."""
    lower = text.lower()
    best, which = 0.0, ""
    groups = _phrases()
    starts: set[int] = set()
    for thing in OBJECT.finditer(lower):
        region = range(max(0, thing.start() - OBJECT_REACH), thing.start())
        starts.update(m.start() + region.start for m in WORD_START.finditer(lower[region.start : region.stop]))
    for at in sorted(starts):
        for first, phrases in groups.items():
            head = lower[at : at + len(first)]
            if SequenceMatcher(None, head, first).ratio() < 0.75:  # not this verb: none of its phrases can match
                continue
            for phrase in phrases:
                window = lower[at : at + len(phrase)]
                matcher = SequenceMatcher(None, window, phrase)
                if matcher.real_quick_ratio() <= best or matcher.quick_ratio() <= best:
                    continue
                ratio = matcher.ratio()
                if ratio > best:
                    best, which = ratio, phrase
    return best, which


@lru_cache(maxsize=4096)  # the same passages come back search after search
def check(text: str) -> Verdict:
    """The strongest sign of injected instructions in a text (a score of 0 when there is none)."""
    if len(text) > MAX_CHARS:
        text = text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2 :]
    found: list[Verdict] = []
    smuggled = "".join(chr(ord(c) - 0xE0000) for run in TAGS.findall(text) for c in run)
    if smuggled.strip():  # ASCII spelled in tag characters: shown to a model, invisible on the page
        found.append(Verdict(0.95, HIDDEN_REASON, " ".join(smuggled.split())[:120]))
    hidden = INVISIBLE.findall(text)
    if len(hidden) >= INVISIBLE_MIN:
        names = sorted({unicodedata.name(c, f"U+{ord(c):04X}").lower() for c in hidden})[:3]
        found.append(Verdict(INVISIBLE_SCORE, INVISIBLE_REASON, f"{len(hidden)} of them: {', '.join(names)}"))
    plain = INVISIBLE.sub("", unicodedata.normalize("NFKC", text))  # hidden characters cannot split a word
    if (m := IGNORE.search(plain)) is not None:
        found.append(Verdict(IGNORE_SCORE, IGNORE_REASON, _quote(plain, m.start(), m.end())))
    for score, reason, pattern in RULES:
        if (m := pattern.search(plain)) is not None:
            found.append(Verdict(score, reason, _quote(plain, m.start(), m.end())))
    ratio, phrase = phrase_score(plain)
    if ratio >= 0.5:  # far below any threshold an administrator would set: not evidence
        found.append(Verdict(round(ratio, 3), PHRASE_REASON.format(ratio=ratio, phrase=phrase), phrase))
    return max(found, key=lambda v: v.score, default=Verdict())


def _quote(text: str, start: int, end: int, *, room: int = 30) -> str:
    """The matched words with a little context, on one line."""
    left = max(0, start - room)
    right = min(len(text), end + room)
    snippet = " ".join(text[left:right].split())
    return ("…" if left else "") + snippet + ("…" if right < len(text) else "")
