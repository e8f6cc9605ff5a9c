"""Every number an explanation states, read in the role its words give it, checked against the evidence.

A number may only appear as something the evidence holds in that same role:
- a rating ("rated it 4", "gave Fargo a 5", "4 stars", "4/5", "4 out of 5"): one of the user's
  ratings in the evidence, on the 1-5 scale;
- a count of people ("131 people", "131 other users"; "dozens/hundreds/thousands of people"): a
  co-liker count of the evidence (at least that magnitude for the vague forms);
- a share ("42%", "42 percent", "half of", "2 out of 5 of your favourites"): the favourite-genre share;
- part of a title the evidence names ("12 Angry Men (1957)").
A number in no recognisable role, or in a role whose value the evidence does not hold, fails:
an LLM that writes "you rated it 61 out of 62" fails even when 61 and 62 are co-liker counts.
Number words ("five", "sixty-one") are read as numbers first; "one" is left alone ("one of").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from chatrec.explain.evidence import Evidence

RATING_SCALE_MAX = 5
_UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
          "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_WORD_VALUES = {word: n for n, word in enumerate(_UNITS) if word != "one"} | _TENS | {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = re.compile(
    r"\b(?P<tens>" + "|".join(_TENS) + r")[- ](?P<unit>" + "|".join(_UNITS[1:10]) + r")\b"
    r"|\b(?:a\s+)?(?P<word>" + "|".join(sorted(_WORD_VALUES, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_WORD_FRACTIONS = (
    (re.compile(r"\b(?:a\s+)?half\s+(?=of\b)", re.IGNORECASE), "50% "),
    (re.compile(r"\btwo[- ]thirds\s+(?=of\b)", re.IGNORECASE), "67% "),
    (re.compile(r"\bthree[- ]quarters\s+(?=of\b)", re.IGNORECASE), "75% "),
    (re.compile(r"\b(?:a|one)[- ]third\s+(?=of\b)", re.IGNORECASE), "33% "),
    (re.compile(r"\b(?:a|one)[- ]quarter\s+(?=of\b)", re.IGNORECASE), "25% "),
)
_VAGUE_COUNTS = re.compile(
    r"\b(?P<word>dozens|hundreds|thousands|millions)\s+of\s+(?:other\s+)?(?:people|users|viewers|fans|others)\b",
    re.IGNORECASE,
)
_VAGUE_MINIMUM = {"dozens": 24, "hundreds": 200, "thousands": 2000, "millions": 2_000_000}
_SCALE_PHRASE = re.compile(r"\b1\s*(?:-|–|to)\s*5(?=\s*(?:-?\s*star\s+)?scale\b)", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\d,])|(?<![\w.])\d+(?:\.\d+)?(?![\w])")
_SHARE_AFTER = re.compile(r"\s*(?:%|percent\b|per\s+cent\b)", re.IGNORECASE)
_OUT_OF_AFTER = re.compile(r"\s*(?:/|out\s+of\b|of\b)\s*(?P<denominator>\d+(?:\.\d+)?)(?![\w])", re.IGNORECASE)
_STARS_AFTER = re.compile(r"\s*-?\s*stars?\b", re.IGNORECASE)
_PEOPLE_AFTER = re.compile(
    r"\s+(?:other\s+|more\s+|similar\s+|like-minded\s+)?(?:people|users|viewers|fans|members|others|persons?|"
    r"moviegoers|raters|folks)\b",
    re.IGNORECASE,
)
_RATING_BEFORE = re.compile(
    r"\b(?:rated|rating|ratings|rate|gave|give|given|giving|scored|score)\b[^.;:!?]{0,40}$", re.IGNORECASE
)
TITLE_PLACEHOLDER = "Title"


def read_number_words(text: str) -> str:
    """'sixty-one' -> '61', 'five' -> '5', 'half of' -> '50% of'; 'one' stays a word."""
    for pattern, replacement in _WORD_FRACTIONS:
        text = pattern.sub(replacement, text)

    def value(match: re.Match[str]) -> str:
        if match["tens"]:
            return str(_TENS[match["tens"].casefold()] + _UNITS.index(match["unit"].casefold()))
        return str(_WORD_VALUES[match["word"].casefold()])

    return _NUMBER_WORD.sub(value, text)


def mask_spans(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """Replace each (start, end) span (title mentions) with a digit-free placeholder."""
    out, position = [], 0
    for start, end in sorted(spans):
        if start < position:
            continue
        out += [text[position:start], TITLE_PLACEHOLDER]
        position = end
    return "".join(out) + text[position:]


def _as_number(token: str) -> float:
    return float(token.replace(",", ""))


def _fmt(values: Iterable[float]) -> str:
    shown = sorted({f"{v:g}" for v in values}, key=float)
    return ", ".join(shown) or "none"


def number_claim_failure(masked: str, evidence: Evidence) -> str | None:
    """The first number of `masked` (titles already masked) the evidence does not hold in its role."""
    text = _SCALE_PHRASE.sub("the rating", read_number_words(masked))
    ratings = {float(h["rating"]) for h in evidence.similar_history if h["rating"] is not None}
    co_likers = {int(h["co_likers"]) for h in evidence.similar_history}
    share = round(evidence.favourite_genre_share * 100) if evidence.shared_genres else None
    for vague in _VAGUE_COUNTS.finditer(text):
        if max(co_likers, default=0) < _VAGUE_MINIMUM[vague["word"].casefold()]:
            return f"claims {vague['word'].lower()} of people; the evidence says {_fmt(co_likers)}"
    consumed: set[int] = set()
    for match in _NUMBER.finditer(text):
        if match.start() in consumed:
            continue
        token, value = match.group(), _as_number(match.group())
        after, before = text[match.end() : match.end() + 40], text[max(0, match.start() - 40) : match.start()]
        rating_context = _RATING_BEFORE.search(before) is not None
        if _SHARE_AFTER.match(after):
            if share is None or round(value) != share:
                return f"claims {token}%; the evidence says {share if share is not None else 'no'}%"
            continue
        out_of = _OUT_OF_AFTER.match(after)
        if out_of:
            denominator = _as_number(out_of["denominator"])
            consumed.add(match.end() + out_of.start("denominator"))
            if rating_context or denominator == RATING_SCALE_MAX or _STARS_AFTER.match(after[out_of.end() :]):
                if value not in ratings:
                    return f"claims a rating of {token}; the user's ratings in the evidence are {_fmt(ratings)}"
                if denominator != RATING_SCALE_MAX:
                    return f"claims a rating out of {out_of['denominator']}; ratings are out of {RATING_SCALE_MAX}"
            elif share is None or denominator == 0 or round(100 * value / denominator) != share:
                return f"claims {token} out of {out_of['denominator']}; the evidence says {share or 0}%"
            continue
        if _PEOPLE_AFTER.match(after):
            if value not in co_likers:
                return f"claims {token} people; the evidence says {_fmt(co_likers)}"
            continue
        if _STARS_AFTER.match(after) or rating_context:
            if value not in ratings:
                return f"claims a rating of {token}; the user's ratings in the evidence are {_fmt(ratings)}"
            continue
        return f"states numbers not in the evidence: {token}"
    return None
