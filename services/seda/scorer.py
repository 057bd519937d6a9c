"""SEDA safety scorer: a 0..100 screening score for a journal text (higher is safer).

The scorer screens and does not diagnose. It reads the text alone, with rules
written by hand and two learned models that can only lower the rule score (a
hashed n-gram model, services/seda/model.py, and a fine-tuned encoder,
services/seda/encoder.py), and returns the band that decides what a platform may show:

    score   band      mode       action
    0-29    critical  halted     no esoteric content, crisis resources, escalate to a human
    30-45   caution   throttled  reduce esoteric output by 70%, prioritise reality testing
    46-70   watch     grounded   proceed with grounding language, monitor
    71-100  clear     open       proceed

Signal categories. The first six follow the six screener questions of the Columbia
Suicide Severity Rating Scale (C-SSRS), in the screener's order:

    wish_to_be_dead       Q1  wished to be dead, or to sleep and not wake up
    active_ideation       Q2  thoughts of killing oneself, and self-harm thoughts
    method                Q3  thoughts of how (pills, a bridge, a gun)
    intent                Q4  some intention of acting on the thoughts
    plan                  Q5  worked-out details (when, where, how)
    preparatory_behavior  Q6  acts: pills saved, a note, possessions given away,
                              farewells, recent self-harm or attempts
    psychosis_mania       delusions of reference, grandiosity, voices, no sleep
    substance_use         alcohol or drug use that harms or helps cope
    acute_distress        hopelessness, entrapment, burdensomeness, panic

What each rule does to a match before it counts: a negation right before it
("I would never ...") or right after it ("... is not an option") drops it, as does
an idiom around it ("dying to see", "killing it"), a third-person subject ("my
friend said she wants to die") or a quotation attributed to a song, a book or
another speaker. A retraction after it ("... but I didn't mean it") or a remote past
with a sign of recovery ("years ago ...; therapy helped") lowers it to low. Laughter
("lol") lowers it by one step. docs/seda-method.md gives the score rules and the limits.

Text in a language the scorer does not support gets ``language_supported=False``
and a score of at most 60 (watch), never clear. Emoji, crisis line numbers and a
small lexicon of first-person crisis phrases in other languages still count.

Pure apart from one read: importing the module loads both models from
services/seda/data/, and assess() raises FileNotFoundError when a file is missing.
No logging and no state between calls apart from compiled patterns, the loaded
model and caches.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import re

from services.seda import crisis_lexicon
from services.seda import encoder as seda_encoder
from services.seda import model as seda_model
from services.seda import scorer_rules as rules
from services.seda.scorer_text import FoldedText, detect_language, fold

MODEL_VERSION = "seda-hybrid-2026.12.19"
# Appended to MODEL_VERSION when the scorer runs without the encoder (SEDA_ENCODER=off).
NO_ENCODER_SUFFIX = "-no-encoder"
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en",)
MAX_TEXT_LENGTH = 20_000  # Unicode code points

CATEGORIES = ("wish_to_be_dead", "active_ideation", "method", "intent", "plan",
              "preparatory_behavior", "psychosis_mania", "substance_use", "acute_distress")
SEVERITIES = rules.SEVERITIES

# Highest score that text in an unsupported language can get: the top of watch.
UNSUPPORTED_LANGUAGE_MAX_SCORE = 60


@dataclasses.dataclass(frozen=True)
class Band:
    """One score band: its name, delivery mode, inclusive score range and action."""

    name: str
    mode: str
    low: int
    high: int
    action: str


BANDS: tuple[Band, ...] = (
    Band("critical", "halted", 0, 29,
         "Show no esoteric content. Show crisis resources and escalate to a human."),
    Band("caution", "throttled", 30, 45,
         "Reduce esoteric output by 70% and prioritise reality testing."),
    Band("watch", "grounded", 46, 70,
         "Proceed with grounding language and monitor."),
    Band("clear", "open", 71, 100,
         "Proceed."),
)


@dataclasses.dataclass(frozen=True)
class Signal:
    """One piece of evidence: a rule that fired on a span of the original text."""

    category: str  # one of CATEGORIES
    severity: str  # one of SEVERITIES
    start: int  # code point offsets into the original text, end exclusive
    end: int
    rule: str  # stable rule id; never contains text


@dataclasses.dataclass(frozen=True)
class Assessment:
    """The scorer's result for one text."""

    score: int
    band: str
    mode: str
    label: str
    action: str
    score_range: str
    signals: tuple[Signal, ...]
    language: str
    language_supported: bool


def model_version(use_encoder: bool = True) -> str:
    """Return the version that names the scorer's configuration in responses and audit records."""
    return MODEL_VERSION if use_encoder else MODEL_VERSION + NO_ENCODER_SUFFIX


def assess(text: str, locale: str = "", *, use_encoder: bool = True) -> Assessment:
    """Score ``text`` and name its dominant concern.

    ``locale`` (a BCP 47 tag such as "en-US") is only a hint for the language of
    very short texts. Without ``use_encoder`` the rules and the n-gram model
    score alone: 10 to 20 times faster, with lower recall (docs/seda-method.md).
    Raises ValueError for empty text or text longer than MAX_TEXT_LENGTH code points.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("text is empty. Send 1 to 20,000 Unicode code points.")
    if len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text has {len(text)} code points, over the maximum of {MAX_TEXT_LENGTH}. "
                         f"Send at most {MAX_TEXT_LENGTH}.")

    folded = fold(text)
    language = detect_language(text, folded.text, locale)
    supported = language in SUPPORTED_LANGUAGES

    score, label, hits = _rule_score(folded, supported)
    ngram = _MODEL or seda_model.default_model()
    prediction = ngram.predict(folded.text)
    # A text already critical cannot go lower, so the encoder skips it.
    already_critical = min(score, _MODEL_MAX_SCORE[prediction.band]) <= _MODEL_MAX_SCORE["critical"]
    encoder = _ENCODER or seda_encoder.default_encoder()
    encoded = None
    if use_encoder and not already_critical and encoder_reads(encoder.tokenizer, text, folded.text, supported):
        encoded = encoder.predict(without_repeated_sentences(text))
    if encoded and _MODEL_MAX_SCORE[encoded.band] < _MODEL_MAX_SCORE[prediction.band]:
        # The encoder has no spans; the n-gram model names the sentence and category behind its band.
        prediction = ngram.explain(folded.text, encoded.band)
    model_max_score = _MODEL_MAX_SCORE[prediction.band]
    if model_max_score < score:
        # The model signal is added only where the model sets the score, so that it explains it.
        score = model_max_score
        label = _model_label(prediction)
        hits.append(_model_hit(prediction, folded.text))
    band = _band_for(score)
    if band.name == "watch" and label in _SUICIDE_LABELS:
        # A suicide-related cue too weak for caution: naming a death wish would contradict
        # the band, which shows no crisis resources. The signals still name the category.
        label = "elevated distress"
    signals = tuple(_to_signal(hit, folded) for hit in sorted(hits, key=lambda h: (h.start, h.end, h.rule)))

    return Assessment(
        score=score,
        band=band.name,
        mode=band.mode,
        label=label,
        action=band.action,
        score_range=f"{band.low}-{band.high}",
        signals=signals,
        language=language,
        language_supported=supported,
    )


# A sentence with its end marks and the spaces after them; a point between two digits ("3.5") ends none.
_SENTENCE_WITH_END = re.compile(r"(?:[^.!?\n]|(?<=[0-9])\.(?=[0-9]))+(?:[.!?\n]+\s*|$)|[.!?\n]+\s*")


def without_repeated_sentences(text: str) -> str:
    """Return ``text`` without the later copies of each sentence (the same words in any case and spacing).

    The encoder reads the result: four copies of "I love you." raised its
    critical probability from 0.003 to 0.68, and a repeat adds no evidence.
    """
    seen: set[str] = set()
    first_copies = []
    for match in _SENTENCE_WITH_END.finditer(text):
        sentence = match.group()
        key = " ".join(sentence.casefold().split()).rstrip(".!? ")
        if key not in seen or not any(ch.isalnum() for ch in key):
            first_copies.append(sentence)
        seen.add(key)
    return "".join(first_copies)


def encoder_reads(tokenizer: seda_encoder.Tokenizer, text: str, folded: str, supported: bool) -> bool:
    """Tell whether the scorer lets the encoder read ``text``; tools/train_seda_encoder.py applies the same rule.

    The encoder reads English text of at least seda_encoder.MIN_WORDS words whose
    tokens are mostly in its vocabulary (seda_encoder.Tokenizer.readable).
    """
    return (supported and seda_model.word_count(folded) >= seda_encoder.MIN_WORDS
            and tokenizer.readable(text))


def rule_band(text: str, locale: str = "") -> str:
    """Return the band that the rules and the safety net alone give ``text``, without the model.

    tools/train_seda.py combines this with cross-validated model predictions to choose
    the model's thresholds.
    """
    folded = fold(text)
    supported = detect_language(text, folded.text, locale) in SUPPORTED_LANGUAGES
    return _band_for(_rule_score(folded, supported)[0]).name


def _rule_score(folded: FoldedText, supported: bool) -> tuple[int, str, list["_Hit"]]:
    """Score the folded text with the rules and the safety net; return the score, label and hits."""
    context = _Context(folded.text)
    hits = _find_hits(context, supported)
    net_hits, net_max_score = _safety_net(context, supported)
    score, label = _score(hits, supported)
    if net_max_score < score:
        # The net cues become signals only where they set the score, so that they explain it.
        score = net_max_score
        label = _net_label(score)
        hits.extend(net_hits)
    return score, label, hits


def _band_for(score: int) -> Band:
    for band in BANDS:
        if band.low <= score <= band.high:
            return band
    raise ValueError(f"score {score} is outside 0..100")


@dataclasses.dataclass
class _Hit:
    """A rule match on the folded text, with its severity after context checks."""

    rule: str
    category: str
    severity: int
    start: int
    end: int


def _to_signal(hit: _Hit, folded: FoldedText) -> Signal:
    start, end = folded.original_span(hit.start, hit.end)
    return Signal(hit.category, SEVERITIES[hit.severity], start, end, hit.rule)


# Finding hits ---------------------------------------------------------------

# More hits of one rule change no score (a category adds points per distinct rule),
# and the cap keeps the pairwise steps below quadratic blow-up on repetitive input.
_MAX_HITS_PER_RULE = 8
_MAX_EMOJI = 16


def _find_hits(context: "_Context", supported: bool) -> list[_Hit]:
    text = context.text
    hits: list[_Hit] = []

    windows = _ANCHORS.windows(context)
    for index, rule in enumerate(rules.RULES):
        if rule.foreign_only and supported:
            continue
        ranges = windows.get(index, ()) if rule.anchors else ((0, len(text)),)
        accepted = 0
        for low, high in ranges:
            for match in rule.pattern.finditer(text, low, high):
                hit = context.judge(rule, match.start(), match.end())
                if hit is not None:
                    hits.append(hit)
                    accepted += 1
                if accepted == _MAX_HITS_PER_RULE:
                    break
            if accepted == _MAX_HITS_PER_RULE:
                break

    hits.extend(_emoji_hits(text, context))
    return _drop_contained(hits)


class _AnchorIndex:
    """One regular expression over every rule anchor, to find the sentences each rule must scan.

    No pattern crosses a sentence end (fillers match letters and spaces only), and every
    match contains one of its rule's anchors, so the sentences that contain an anchor
    of a rule hold every match of that rule.

    The expression is a lookahead around a trie of the anchors, so it reports, at each
    position, the longest anchor that starts there. Each anchor maps to the rules of
    every anchor that is a prefix of it, which also covers the shorter anchors that
    start at the same position.
    """

    def __init__(self, rule_list: tuple[rules.Rule, ...]) -> None:
        rules_of: dict[str, set[int]] = {}
        for index, rule in enumerate(rule_list):
            for anchor in rule.anchors:
                rules_of.setdefault(anchor, set()).add(index)

        self.rules_by_anchor = {
            anchor: frozenset(index for prefix, indices in rules_of.items() if anchor.startswith(prefix)
                              for index in indices)
            for anchor in rules_of}
        self.pattern = re.compile("(?=(" + _trie_pattern(sorted(rules_of)) + "))")

    def windows(self, context: "_Context") -> dict[int, list[tuple[int, int]]]:
        """Map each rule index to the ranges of ``context.text`` that it must scan."""
        text = context.text
        starts = context.sentence_starts
        ranges: dict[int, list[tuple[int, int]]] = {}

        for number, start in enumerate(starts):
            end = starts[number + 1] if number + 1 < len(starts) else len(text)
            found = set(self.pattern.findall(text, start, end))
            if not found:
                continue
            indices = frozenset().union(*(self.rules_by_anchor[anchor] for anchor in found))
            for index in indices:
                spans = ranges.setdefault(index, [])
                # Adjacent sentences merge into one range, so a rule scans a run of them once.
                if spans and spans[-1][1] == start:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start, end))
        return ranges


def _trie_pattern(words: list[str]) -> str:
    """Return an alternation of ``words`` factored by common prefixes; longer words win."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}
    return _node_pattern(trie)


def _node_pattern(node: dict) -> str:
    branches = [re.escape(ch) + _node_pattern(child) for ch, child in sorted(node.items()) if ch]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # A word that ends here is the empty branch; the greedy "?" tries the longer words first.
    return f"(?:{body})?" if "" in node else body


_ANCHORS = _AnchorIndex(rules.RULES)


def _drop_contained(hits: list[_Hit]) -> list[_Hit]:
    """Drop a hit whose span lies inside another hit of the same category and at least its severity."""
    by_category: dict[str, list[_Hit]] = {}
    for hit in hits:
        by_category.setdefault(hit.category, []).append(hit)

    kept = []
    for hit in hits:
        covered = any(
            other is not hit and other.severity >= hit.severity
            and other.start <= hit.start and hit.end <= other.end
            and (other.start, other.end, other.severity) != (hit.start, hit.end, hit.severity)
            for other in by_category[hit.category])
        if not covered:
            kept.append(hit)
    return kept


# A point or colon between two digits ("7:15", "2.5") ends no sentence.
_SENTENCE_END = re.compile(r"(?<![0-9])[.!?;:\n]+|[.!?;:\n]+(?![0-9])")
_CLAUSE_BREAK = re.compile(r"(?<![a-z'])(?:but|though|although|however|yet|except)(?![a-z'])|[,;]")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")

_NEGATOR = re.compile(r"(?<![a-z'])(?:never|not|no longer|won't|wont|wouldn't|wouldnt|don't|dont|didn't|didnt|"
                      r"doesn't|isn't|wasn't|ain't|haven't|hasn't|nor|would not|will not|do not|did not|"
                      r"have not|has not|no|zero|"
                      # Acting out is not doing: "pretending to die on stage", "mime stabbing myself".
                      r"pretend|pretends|pretending|pretended|mime|mimed|miming|fake|faked|faking)(?![a-z'])")
# Phrases that contain a negator but affirm what follows ("not gonna lie, ...").
_NEGATION_BLOCKER = re.compile(r"(?:can't|cannot|couldn't) promise|not sure|(?:don't|do not|didn't) know|"
                               r"won't lie|not (?:gonna|going to) lie|not (?:kidding|joking)|never thought|"
                               r"(?:don't|didn't) think (?:i can|i could)|not okay|not ok|not fine")
# Words that may stand between a negator and the phrase it negates.
_NEGATION_SCOPE = frozenset("""
i i'm im i'd i'll i've am is are was be been being ever even really actually honestly seriously truly
going gonna to want wanna wanted try trying plan planning planned intend intending think thinking thought
about of do did does would will could should have has had feel feeling felt wish just myself my own
a an the that it this any anything kind sort like ever again want consider considering anymore
thoughts plans plan intention intentions urge urges desire having saying sort
""".split())
_NEGATION_AFTER = re.compile(r"[ ?!.,:;\"')-]{0,4}(?:never|no way|i (?:said|answered) no|(?:is|was|has been|has never been|is never|"
                             r"isn't|wasn't)? ?(?:not|never) (?:an option|the answer|something|on the table|"
                             r"been on the table|going to happen)|isn't (?:an option|the answer|something)|"
                             r"is off the table|has never been|was never)")

# A retraction that the writer takes back at once ("jk... unless?", "kidding. or am i") retracts nothing.
_RETRACTION = re.compile(r"(?:(?:didn't|did not|don't|do not) (?:really |actually )?mean (?:it|that)|"
                         r"(?:only|just|was|i'm|im) (?:kidding|joking)|(?<![a-z])(?:jk|j/k|/j|/s)(?![a-z])|"
                         r"wasn't (?:being )?serious|as a joke|"
                         r"(?:obviously|of course) i (?:don't|didn't|do not|did not)(?= ?[.!]|$))"
                         r"(?![ .,!?:;()-]{0,6}(?:unless|or am i|or is it|or not|or maybe not|not really|\(?not\)?|kinda not"
                         r"|half)(?![a-z]))")
_CAUSATIVE = re.compile(r"(?:make|makes|making|made) me$")
_CAUSED_WISH = re.compile(r"(?:make|makes|making|made) me(?: (?:want|wanna))?(?: to)?$")
_LAUGHTER = re.compile(r"(?<![a-z])(?:lol+|lmao+|lmfao|rofl|ha(?:ha)+h?|he(?:he)+|xd)(?![a-z])|[" +
                       rules.LAUGH_EMOJI + "]")

_FIRST_PERSON = frozenset("i i'm im i've ive i'd i'll me my myself mine we".split())
_THIRD_PERSON = frozenset("""
he she they him her them his their he's she's they're someone somebody friend sister brother mom mum mother
dad father son daughter cousin uncle aunt grandma grandmother grandpa grandfather roommate partner boyfriend
girlfriend husband wife coworker colleague client patient student character man woman guy girl kid child
neighbour neighbor bestie ex villain hero protagonist speaker singer narrator teacher boss who people
""".split())

_QUOTE = re.compile(r"\"[^\"\n]{1,400}\"|(?<![a-z0-9])'(?:[^'\n]|(?<=[a-z])'(?=[a-z])){1,400}'(?![a-z0-9])")
_WORK_CUE = re.compile(r"(?<![a-z])(?:songs?|lyrics?|chorus|verse|sing|sings|sang|singing|sung|karaoke|album|track|"
                       r"playlist|on repeat|shuffle|band|rapper|singer|poem|poet|poetry|line|lines|quote|quoted|movie|"
                       r"film|show|episode|series|book|novel|play|scene|character|villain|speech|says|said|shouts|"
                       r"requiem|choir|hymn|cartoon|meme|stuck in my head)(?![a-z])")
# A sentence that starts inside a story: "In my novel the detective finds a suicide note".
_FICTION_FRAME = re.compile(r"(?:^|(?<=[^a-z']))(?:in|for) (?:my|the|a|this|our|his|her|their) (?:[a-z']+ )?"
                            r"(?:novel|story|book|film|movie|screenplay|script|play|fanfic|fic|comic|campaign|episode"
                            r"|chapter|manuscript|draft)(?![a-z])")
_LYRIC_LEAD = re.compile(r"(?:lyrics?|line|chorus|song|verse) (?:goes|go|says|is|was)[ :]*$")
# A work named just before the match and what it is about: "sang a ballad about wanting to die".
_WORK_ABOUT = re.compile(r"(?<![a-z])(?:songs?|ballad|track|album|poem|play|film|movie|show|book|novel|scene|episode|"
                         r"lyrics?) (?:[a-z']+ ){0,2}(?:about|called|titled|named) (?:[a-z']+ ){0,2}$")

# Remote past ("two years ago", "in high school") and signs that it is resolved.
_REMOTE_PAST = re.compile(
    r"(?<![a-z])(?:(?:\d+|a few|few|several|many|two|three|four|five|six|seven|eight|nine|ten) years? ago|"
    r"years ago|a (?:long time|decade|year) ago|decades? ago|months ago|back (?:then|in)|in (?:high school|college|"
    r"university|school|my teens|my twenties|my thirties|(?:19|20)\d\d)|when i was (?:a kid|a teen(?:ager)?|younger|"
    r"little|in (?:high )?school|in college|\d+|[a-z]+teen|twenty)|as a (?:kid|teen(?:ager)?)"
    r"|at (?:age )?\d\d(?=,? i (?:[a-z]+ )?(?:was|had|wrote|tried|wanted|thought|felt|used|did|took|made|got|went) )"
    r"|there (?:was|were) "
    r"(?:a time|days|times)|used to|i remember (?:when|wanting|feeling)|at my lowest|last year|once thought|"
    r"last (?:winter|spring|summer|autumn|fall)|(?:my|the|an?) (?:old|(?:19|20)\d\d) (?:journal|diary|notebook|entries)|"
    r"(?:journal|diary|notebook|entries) from (?:19|20)\d\d|in the first year)(?![a-z])")
_RESOLVED = re.compile(
    r"(?<![a-z])(?:therapy (?:has )?(?:helped|saved)|pulled me through|got me through|helped me|saved my life|got help|"
    r"glad i (?:stayed|got help|'m still here|am still here|survived|didn't|reached out)|grateful|so glad|"
    r"(?:much |so much |a lot )?better (?:now|place)|doing (?:much |so much |a lot )?better|proud of|how far i've come|"
    r"chapter is closed|behind me|(?:feelings|thoughts) (?:are|were) gone|life is (?:good|full|great)|"
    r"(?:years?|months?) (?:clean|sober|free)|free of it|haven't (?:in|since|had)|recovered|recovery|now i |"
    r"today i(?:'m| ran| feel| am| have)|i love my life|i'm sober|i'm \d+ now|now i'm|haven't felt that way|"
    r"(?:not|no longer) that person|(?:have been|are|were) absent|really okay|i'm not in that place)(?![a-z])")
# A past feeling that comes back, in the rest of its sentence or the next one ("some of that feeling is creeping back"),
# not a person coming back from somewhere ("then I came back home").
_RETURNING = re.compile(r"(?<![a-z])(?<!i )(?<!i'm )(?<!im )(?<!we )(?<!he )(?<!she )(?<!you )"
                        r"(?:(?:creeping|coming|came|crept|is|are|it's|they're|feels?|feeling) back"
                        r"(?! (?:home|from|to|here|there|with|for|after|in)(?![a-z]))"
                        r"|returning|has returned|have returned|resurfac[a-z]*)(?![a-z])")
# The "today" of "ten years ago today" dates the past, so it does not mark the present.
_PRESENT = re.compile(r"(?<![a-z])(?<!ago )"
                      r"(?:now|today|tonight|again|still|lately|these days|right now|currently|anymore)(?![a-z])")

# An imperative that passes a message on, followed only by its addressee ("please tell my dad that ").
_ADDRESSED = re.compile(r"(?:^\s*|(?<![a-z'])(?:please|and|just|so) )tell (?:[a-z']+ ){1,3}?(?:that )?$")

# Words saying that an act is permanent, or that the writer called it temporary to hide that.
_PERMANENCE = re.compile(
    r"(?<![a-z'])(?:for good|permanently|forever|for keeps|to keep (?:him|her|them|it)"
    r"|i(?:'ll| will) be (?:at peace|gone|dead)(?= ?[.!,]|$)"
    r"|(?:he|she|they|it)(?:'s| is|'re| are) (?:yours|hers|his|theirs) now"
    r"|(?:won't|will not|wont) be (?:coming )?back(?: for (?:him|her|them|it))?(?= ?[.!,]|$)"
    r"|not coming back(?= ?[.!,]|$| for)"
    r"|(?:it|this|that) (?:isn't|is not|wasn't|was not)(?= ?[.!]|$)"
    r"|(?:told|telling|tell|said|thinks|thought) (?:[a-z']+ ){0,2}?(?:it was|it's|it is|it'll be) (?:just |only )?"
    r"(?:for a (?:while|bit|few days|week)|temporary|for now|until))(?![a-z'])")

# Leaving a place, a job or a platform for good, which is no farewell to life.
_ORDINARY_DEPARTURE = re.compile(
    r"(?<![a-z'])(?:twitter|instagram|facebook|tiktok|snapchat|reddit|discord|social media|this app|the app|offline"
    r"|online|the internet|this site|this server|this forum|the group ?chat|house|town|city|country|job|company|office"
    r"|school|moving|move|relocat[a-z]*|emigrat[a-z]*|abroad|new (?:place|home|start)|work|last day|sabbatical"
    r"|retire|retiring|retirement|colleagues|backpack[a-z]*|gap year|travel[a-z]*"
    r"|new (?:journal|notebook|diary|one)|starting (?:a )?new"
    # the end of a year, or a meeting on a date ("last entry of the year! see you in 2027")
    r"|of the year|(?:see|talk to|catch) (?:you|y'all|ya) (?:soon|tomorrow|next [a-z]+|in [0-9]{4}|in the new year)"
    r"|until next (?:time|week|month|year))(?![a-z'])")

_INTENT_LEAD = re.compile(r"(?<![a-z'])(?:want|wanna|going to|gonna|thinking|thought|think|plan|planning|keep|"
                          r"imagine|imagining|tempted|urge|will|i'll|should|decided|about to)(?![a-z'])")


class _Context:
    """Sentence bounds, quotes and text-wide cues of one folded text, for judging matches."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sentence_starts = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
        self.quotes = [(m.start(), m.end()) for m in _QUOTE.finditer(text)] if ('"' in text or "'" in text) else []
        self.resolved = _RESOLVED.search(text) is not None
        self.idioms = [(m.start(), m.end()) for m in rules.IDIOMS.finditer(text)]

    def sentence(self, position: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.sentence_starts, position) - 1
        start = self.sentence_starts[index]
        end = self.sentence_starts[index + 1] if index + 1 < len(self.sentence_starts) else len(self.text)
        return start, end

    def sentence_index(self, position: int) -> int:
        return bisect.bisect_right(self.sentence_starts, position) - 1

    def passes_guards(self, start: int, end: int, negatable: bool) -> bool:
        """Whether a safety-net cue survives the guards of the rules (idiom, negation, person, quote, past)."""
        text = self.text
        sentence_start, sentence_end = self.sentence(start)
        prefix = text[max(sentence_start, start - 80):start]

        if any(s < end and start < e for s, e in self.idioms):
            return False
        if negatable and self._negated(prefix, text[end:end + 40]):
            return False
        if _LAUGHTER.search(text, sentence_start, sentence_end) and _CAUSED_WISH.search(_last_words(prefix, 4)):
            # "ugh mondays make me want to die lol": the rules read this as hyperbole about its cause.
            return False
        if self._third_person(prefix, text[start:end]) or self._quoted_work(start, end, sentence_start):
            return False
        if _FICTION_FRAME.search(text, sentence_start, start):
            return False
        return self._past_or_retracted(rules.HIGH, start, end, sentence_start, sentence_end) == rules.HIGH

    def judge(self, rule: rules.Rule, start: int, end: int) -> _Hit | None:
        """Apply the context checks to one match; None drops it."""
        text = self.text
        sentence_start, sentence_end = self.sentence(start)
        sentence = text[sentence_start:sentence_end]
        prefix = text[max(sentence_start, start - 80):start]
        severity = rule.severity

        # Step 1: checks that drop the match.
        if any(s < end and start < e for s, e in self.idioms):
            return None
        if rule.unless is not None and rule.unless.search(sentence):
            return None
        if rule.only_after is not None and not rule.only_after.search(text, 0, start):
            return None
        if rule.foreign_only and crisis_lexicon.is_figurative(text, start, end):
            return None
        if rule.negatable and self._negated(prefix, text[end:end + 40]):
            return None
        if rule.person_check and self._third_person(prefix, text[start:end]):
            return None
        if self._quoted_work(start, end, sentence_start):
            return None
        if _FICTION_FRAME.search(text, sentence_start, start):
            return None

        # Step 2: checks that raise or lower it.
        if rule.intent_upgrade and _INTENT_LEAD.search(_last_words(prefix, 5)):
            severity = max(severity, rules.HIGH)
        if rule.final_severity is not None and self._said_final(sentence_start, sentence_end):
            severity = max(severity, rule.final_severity)
        if rule.category not in ("substance_use", "acute_distress", "psychosis_mania"):
            severity = self._past_or_retracted(severity, start, end, sentence_start, sentence_end)
            if severity is None:
                return None
        if _LAUGHTER.search(sentence) or _LAUGHTER.search(text[end:end + 12]):
            # Laughing about something that "will make me kms" is hyperbole about its cause.
            causative = _CAUSATIVE.search(_last_words(prefix, 3)) is not None
            severity = rules.LOW if causative else max(rules.LOW, severity - 1)

        return _Hit(rule.id, rule.category, severity, start, end)

    @staticmethod
    def _negated(prefix: str, after: str) -> bool:
        clause = _CLAUSE_BREAK.split(prefix)[-1]
        if _NEGATION_BLOCKER.search(clause):
            return False
        negators = list(_NEGATOR.finditer(clause))
        if negators:
            between = _TOKEN.findall(clause[negators[-1].end():])
            if all(word in _NEGATION_SCOPE for word in between):
                return True
        return _NEGATION_AFTER.match(after) is not None

    def _said_final(self, sentence_start: int, sentence_end: int) -> bool:
        """Whether this sentence or the next says that what the writer did is permanent."""
        end = self.sentence(sentence_end)[1] if sentence_end < len(self.text) else sentence_end
        if _ORDINARY_DEPARTURE.search(self.text, sentence_start, end):
            return False
        return _PERMANENCE.search(self.text, sentence_start, end) is not None

    @staticmethod
    def _third_person(prefix: str, matched: str) -> bool:
        """Whether the nearest subject before the match is someone other than the writer."""
        first_word = _TOKEN.match(matched)
        if first_word and first_word.group() in _FIRST_PERSON:
            return False
        clause = _CLAUSE_BREAK.split(prefix)[-1]
        if _ADDRESSED.search(clause):
            # "Tell Mom it wasn't her fault": the writer speaks, and Mom is the addressee.
            return False
        for word in reversed(_TOKEN.findall(clause)[-10:]):
            if word in _FIRST_PERSON:
                return False
            if word in _THIRD_PERSON:
                return True
        return False

    def _quoted_work(self, start: int, end: int, sentence_start: int) -> bool:
        """Whether the match quotes a song, a book, a show or another speaker."""
        for quote_start, quote_end in self.quotes:
            if quote_start <= start and end <= quote_end:
                around = self.text[max(0, quote_start - 120):min(len(self.text), quote_end + 120)]
                lead = self.text[max(sentence_start, quote_start - 60):quote_start]
                if _WORK_CUE.search(around) or self._third_person(lead, ""):
                    return True
        lead = self.text[max(sentence_start, start - 40):start]
        return _LYRIC_LEAD.search(lead) is not None or _WORK_ABOUT.search(lead) is not None

    def _past_or_retracted(self, severity: int, start: int, end: int, sentence_start: int,
                           sentence_end: int) -> int | None:
        """Return the severity lowered for a retraction or a remote past, or None for a past the writer has left behind."""
        text = self.text

        # A retraction later in the sentence or in the next one.
        next_start, next_end = self.sentence(min(len(text) - 1, sentence_end)) if sentence_end < len(text) else (0, 0)
        after = text[end:sentence_end] + " " + text[next_start:next_end]
        if _RETRACTION.search(after) or _RETRACTION.search(text[sentence_start:start]):
            return rules.LOW

        # A remote past in this sentence or the one before, unless the clause is in the present.
        previous_start, _ = self.sentence(max(0, sentence_start - 2))
        window = text[previous_start:sentence_end]
        clause = _CLAUSE_BREAK.split(text[sentence_start:start])[-1] + " " + _CLAUSE_BREAK.split(text[end:sentence_end])[0]
        if _REMOTE_PAST.search(window) and not _PRESENT.search(clause):
            # A feeling that is coming back ("creeping back") weighs more than one long
            # past, whatever recovery came between.
            if _RETURNING.search(after):
                return max(rules.LOW, severity - 1)
            if self.resolved:
                return None
            return max(rules.LOW, severity - 2)
        return severity


def _last_words(text: str, count: int) -> str:
    return " ".join(text.split()[-count:])


def _emoji_hits(text: str, context: _Context) -> list[_Hit]:
    """Signals from method and death emoji, which count only with a cue in the same sentence."""
    if not any(ch in text for ch in rules.METHOD_EMOJI + rules.DEATH_EMOJI):
        return []

    hits: list[_Hit] = []
    cues: dict[int, tuple[bool, bool]] = {}
    for match in _EMOJI.finditer(text):
        if len(hits) == _MAX_EMOJI:
            break
        index, ch = match.start(), match.group()
        is_method = ch in rules.METHOD_EMOJI

        start, end = context.sentence(index)
        near = text[max(0, index - 6):index + 7]
        if start not in cues:
            # Short texts are one thought, so the whole text is the emoji's context.
            sentence = text if len(text) <= 120 else text[start:end]
            cues[start] = (_EMOJI_FINALITY.search(sentence) is not None,
                           _EMOJI_FAREWELL.search(sentence) is not None or rules.WAVE_EMOJI in sentence)
        final, farewell = cues[start]
        paired = any(c in rules.DEATH_EMOJI for c in near) if is_method else any(c in rules.METHOD_EMOJI for c in near)
        repeated = sum(1 for c in near if c in rules.METHOD_EMOJI) >= 3

        context_text = text if len(text) <= 120 else text[start:end]
        # A blade next to a drop of blood reads as self-harm, unless it is cooking, make-up or fiction.
        if (ch in _BLADES and rules.BLOOD_EMOJI in near and not _STAGED_BLOOD.search(context_text)
                and not _innocent_emoji_use(ch, context_text)):
            repeat = final or _AGAIN.search(context_text) is not None
            hits.append(_Hit("emoji.self_harm", "preparatory_behavior", rules.HIGH if repeat else rules.MODERATE,
                             index, index + 1))
            continue
        if is_method and not (farewell or paired):
            if _innocent_emoji_use(ch, context_text):
                continue
        if is_method:
            severity = rules.HIGH if (final or farewell or paired) else rules.MODERATE if repeated else rules.LOW
            hits.append(_Hit("emoji.method", "method", severity, index, index + 1))
        elif farewell or paired:
            hits.append(_Hit("emoji.death.farewell", "preparatory_behavior", rules.HIGH, index, index + 1))
        else:
            severity = rules.MODERATE if final else rules.LOW
            hits.append(_Hit("emoji.death", "wish_to_be_dead", severity, index, index + 1))
    return hits


_EMOJI = re.compile("[" + rules.METHOD_EMOJI + rules.DEATH_EMOJI + "]")
_BLADES = "\U0001f52a\U0001fa92"  # knife, razor
_AGAIN = re.compile(r"(?<![a-z])(?:again|deeper|relapsed?|every night|last night|tonight)(?![a-z])")
_STAGED_BLOOD = re.compile(r"(?<![a-z])(?:halloween|make ?up|sfx|costume|cosplay|horror|movie|film|show|series|game|gaming"
                           r"|zombie|murder mystery|true crime|podcast|book|novel|story|fiction|prop|fake blood)(?![a-z])")
_EMOJI_FINALITY = re.compile(
    r"(?<![a-z])(?:done|tonight|can't (?:anymore|do this|go on)|cant anymore|no more|the end|it's over|soon|enough|"
    r"nobody (?:cares|will miss me)|no one cares|tired of (?:everything|it all|life)|over it|me soon|ready|"
    r"(?:it's|its|it is) time(?= *(?:$|[.!,;\n]| to go| now))|this is it|"
    r"no puedo|no aguanto|n'en peux plus|aguento|kann nicht mehr)(?![a-z])")
_EMOJI_FAREWELL = re.compile(r"(?<![a-z])(?:bye|goodbye|farewell|adios|adieu|adeus|addio|tschuss)(?![a-z])")
# Everyday uses of a method emoji, named in its sentence: a knife for cooking, a pill
# for a prescription, a knot for sailing. They cancel the emoji unless a farewell or
# a death emoji goes with it.
# NOTE: the uses are short word lists, so an everyday use named in other words still counts.
_EMOJI_INNOCENT = {
    "\U0001f52a": re.compile(r"(?<![a-z])(?:cook|cooking|cooked|chef|kitchen|recipe|chop|chopping|dice|dicing|slice"
                             r"|slicing|carve|carving|knife skills|sharpen|sharpening|dinner|lunch|prep|meal|butcher"
                             r"|onions?|veg|salsa|salad|soup|stew|curry|bread|cake|baking|making (?:tea|lunch|dinner|breakfast))"
                             r"(?![a-z])|[\U0001f345-\U0001f37f\U0001f950-\U0001f96f\U0001f9c0-\U0001f9cb]"),
    "\U0001f48a": re.compile(r"(?<![a-z])(?:vitamins?|prescription|prescribed|doctor|gp|pharmacy|pharmacist|refill"
                             r"|antibiotics|supplements?|allergy|hay ?fever|headache|cold|flu|melatonin"
                             r"|(?:my|morning|evening|night) meds)(?![a-z])"),
    "\U0001faa2": re.compile(r"(?<![a-z])(?:sail|sailing|boat|scouts?|macrame|climbing|knot tying|crochet|knitting"
                             r"|rope course)(?![a-z])"),
    "\U0001fa92": re.compile(r"(?<![a-z])(?:shave|shaving|shaved|beard|barber|legs)(?![a-z])"),
    "\U0001fa78": re.compile(r"(?<![a-z])(?:donate|donating|donation|donor|blood test|period|bloods)(?![a-z])"),
}


def _innocent_emoji_use(emoji: str, sentence: str) -> bool:
    """Tell whether ``sentence`` names an everyday use of the method emoji ``emoji``."""
    pattern = _EMOJI_INNOCENT.get(emoji)
    return pattern is not None and pattern.search(sentence) is not None


# Safety net -------------------------------------------------------------------
#
# The phrase rules above miss much oblique wording ("the bridge is ten minutes from
# here. tonight."), and a missed crisis text must not come out clear. The net
# scans the text a second time with the broad lexicon in scorer_rules (NET_*) and
# sets a maximum score that only ever lowers the rule score:
#
#     a death or self-harm cue, or a farewell made final     -> at most watch (70)
#     a death cue and a wish or intent in the same sentence  -> at most caution (45)
#     two kinds of {death with wish, means, timing, farewell} -> at most critical (29)
#
# Means and timing count only near a death or farewell cue (the same sentence or
# the next or previous one, or anywhere in a short text), because "the train
# tomorrow" alone is everyday talk. Every cue goes through the same guards as the
# rules: idioms, negation, third person, quoted songs and books, retraction and a
# remote past.

_NET_WATCH_MAX = 70
_NET_CAUTION_MAX = 45
_NET_CRITICAL_MAX = 29
# The severity of the net's signals follows the band their floor sets, so that a
# critical floor is never explained by low signals only.
_NET_SEVERITY = {_NET_CRITICAL_MAX: rules.HIGH, _NET_CAUTION_MAX: rules.MODERATE, _NET_WATCH_MAX: rules.LOW}
# Text at most this long (folded characters) counts as one thought, so a means or a
# time anywhere in it is near the death cue.
_NET_SHORT_TEXT = 240
# Matches of one net pattern that are examined; more change no floor, and the cap keeps
# the pairwise checks cheap on repetitive input.
_NET_MAX_MATCHES = 8
# Words in a death cue that make it about the writer's own body whatever the topic,
# so a game or film word in the sentence does not cancel it.
_NET_SELF_WORDS = re.compile(r"myself|self|suicid|kms|ctb|unaliv|burden|without me|game end|my (?:death|funeral|life)")
_NET_ACT = re.compile(r"kill|off myself|end myself|kms|ctb|unaliv|sewer|game end|take my|taking my|end my life"
                      r"|end it|rope|hang myself|drown myself|suicid")
# Cues found by the net carry these categories so that callers see what set the floor.
_NET_CATEGORY = {"death": "wish_to_be_dead", "wish": "intent", "means": "method", "timing": "plan",
                 "farewell": "preparatory_behavior"}


@dataclasses.dataclass(frozen=True)
class _Cue:
    kind: str  # a key of _NET_CATEGORY
    sentence: int  # index into _Context.sentence_starts
    start: int
    end: int


def _safety_net(context: "_Context", supported: bool) -> tuple[list[_Hit], int]:
    """Find the broad cues and return their hits and the maximum score they allow (100: no limit)."""
    lexicon_hits, lexicon_max_score = _lexicon_floor(context, supported)
    if not supported:
        return lexicon_hits, lexicon_max_score
    hits, max_score = _net_floor(context, _english_cues(context), supported)
    return hits + lexicon_hits, min(max_score, lexicon_max_score)


def _english_cues(context: "_Context") -> list[_Cue]:
    text = context.text
    cues = []
    for match in itertools.islice(rules.NET_DEATH.finditer(text), _NET_MAX_MATCHES):
        start, end = match.span()
        sentence_start, sentence_end = context.sentence(start)
        if (not _NET_SELF_WORDS.search(match.group())
                and rules.NET_GAME_CONTEXT.search(text, sentence_start, sentence_end)):
            continue
        if context.passes_guards(start, end, negatable=True):
            cues.append(_Cue("death", context.sentence_index(start), start, end))

    # Without a death cue or a farewell there is no gate, so the other kinds need no scan.
    if not cues and rules.NET_FAREWELL.search(text) is None:
        return cues

    for kind, pattern in (("means", rules.NET_MEANS), ("timing", rules.NET_TIMING),
                          ("farewell", rules.NET_FAREWELL), ("wish", rules.NET_WISH)):
        for match in itertools.islice(pattern.finditer(text), _NET_MAX_MATCHES):
            if kind == "wish" and not _in_death_sentence(cues, context.sentence_index(match.start())):
                continue
            if any(c.start < match.end() and match.start() < c.end for c in cues if c.kind == "death"):
                continue
            if context.passes_guards(match.start(), match.end(), negatable=kind != "timing"):
                cues.append(_Cue(kind, context.sentence_index(match.start()), match.start(), match.end()))
    return cues


# The signal category of each kind of crisis_lexicon phrase.
_LEXICON_CATEGORY = {"active": "active_ideation", "passive": "wish_to_be_dead", "gone": "intent",
                     "topic": "active_ideation", "farewell": "preparatory_behavior", "final": "plan",
                     "means": "method", "timing": "plan", "retract": "wish_to_be_dead", "intent": "intent"}
# Kinds whose phrase a negator before it cancels ("no quiero morir").
_LEXICON_NEGATABLE = frozenset({"active", "passive", "gone", "topic"})


def _lexicon_floor(context: "_Context", supported: bool) -> tuple[list[_Hit], int]:
    """Find crisis phrases of other languages (crisis_lexicon) and return their hits and the maximum score.

    The rules are tried in order, and the first whose cues are all found sets the score:

        critical  an active phrase ("quiero matarme"), as its English twin is
        critical  a wish to be dead with a means, a farewell act or finality near it
        critical  "soon I won't be here" with a means or a farewell act near it
        critical  a farewell act with finality, a means or "I won't be here" near it
        critical  a negated active phrase with "I'll do it" and a time near it (a deferral)
        critical  the word suicide with a farewell act, finality, "I won't be here" or intent near it
        caution   a wish to be dead alone, or with a time, or retracted ("no voy a hacer nada")
        caution   "I won't be here" with a time or finality, or a farewell act with a time
        caution   the word suicide with a means or a time, or "I'll do it" with a means

    Phrases that are literal, past or a joke (crisis_lexicon.is_figurative) or about
    someone else do not count, and neither do farewells and finality next to a move,
    a trip or a new job. English text skips the bare word suicide, which the English
    rules judge. "Near" means in the same or a neighbouring sentence, or anywhere in a
    short text.
    """
    text = context.text
    cues: dict[str, list[_Cue]] = {kind: [] for kind in crisis_lexicon.KINDS}
    deferred: list[_Cue] = []  # negated active phrases: "not tonight" may go on "but tomorrow"
    for match in crisis_lexicon.LEXICON.find(text, _NET_MAX_MATCHES):
        if supported and match.kind == "topic":
            continue
        cue = _Cue(match.kind, context.sentence_index(match.start), match.start, match.end)
        if match.kind in _LEXICON_NEGATABLE:
            if crisis_lexicon.LEXICON.is_negated(text, match):
                if match.kind == "active":
                    deferred.append(cue)
                continue
            if crisis_lexicon.is_figurative(text, match.start, match.end) \
                    or crisis_lexicon.is_about_someone_else(text, match):
                continue
        if match.kind in ("farewell", "gone", "final") and crisis_lexicon.is_ordinary_departure(text, match):
            continue
        cues[match.kind].append(cue)
    if not (cues["active"] or cues["passive"] or cues["gone"] or cues["topic"] or cues["farewell"]
            or cues["intent"] or deferred):
        return [], 100

    short = len(text) <= _NET_SHORT_TEXT

    def near(found: list[_Cue], anchors: list[_Cue]) -> list[_Cue]:
        if not anchors:
            return []
        return [c for c in found if short or any(abs(c.sentence - a.sentence) <= 1 for a in anchors)]

    passive, gone, topic = cues["passive"], cues["gone"], cues["topic"]
    acts = cues["means"] + cues["farewell"] + cues["final"]
    rules_in_order = (
        # (cues that must be present, cues near them, maximum score)
        (cues["active"], cues["active"], _NET_CRITICAL_MAX),
        # "Hoy no me voy a suicidar, lo haré el domingo": a negation that only defers.
        (deferred, near(cues["intent"], deferred) and near(cues["timing"], deferred), _NET_CRITICAL_MAX),
        (passive, [] if cues["retract"] else near(acts, passive), _NET_CRITICAL_MAX),
        (gone, near(cues["means"] + cues["farewell"], gone), _NET_CRITICAL_MAX),
        (cues["farewell"], near(cues["final"] + cues["means"] + gone, cues["farewell"]), _NET_CRITICAL_MAX),
        (topic, near(cues["farewell"] + cues["final"] + gone + cues["intent"], topic), _NET_CRITICAL_MAX),
        (passive, passive, _NET_CAUTION_MAX),
        (gone, near(cues["timing"] + cues["final"], gone), _NET_CAUTION_MAX),
        (cues["farewell"], near(cues["timing"], cues["farewell"]), _NET_CAUTION_MAX),
        (topic, near(cues["means"] + cues["timing"], topic), _NET_CAUTION_MAX),
        (cues["intent"], near(cues["means"], cues["intent"]), _NET_CAUTION_MAX),
    )
    for anchors, supporting, max_score in rules_in_order:
        if anchors and supporting:
            counted = anchors + supporting
            break
    else:
        return [], 100
    hits = [_Hit(f"net.lexicon.{c.kind}", _LEXICON_CATEGORY[c.kind], _NET_SEVERITY[max_score], c.start, c.end)
            for c in sorted(set(counted), key=lambda c: (c.start, c.end))]
    # Phrases of two languages can overlap ("quiero matarme" and Portuguese "matar-me").
    return _drop_contained(hits), max_score


def _in_death_sentence(cues: list[_Cue], sentence: int) -> bool:
    return any(c.kind == "death" and c.sentence == sentence for c in cues)


def _net_floor(context: "_Context", cues: list[_Cue], supported: bool) -> tuple[list[_Hit], int]:
    death = [c for c in cues if c.kind == "death"]
    farewells = [c for c in cues if c.kind == "farewell"]
    final_farewells = [c for c in farewells if _farewell_is_final(context, c, farewells)]
    gates = death + final_farewells
    if not gates:
        return [], 100

    short = len(context.text) <= _NET_SHORT_TEXT
    gate_sentences = {c.sentence for c in gates}

    def near_gate(cue: _Cue) -> bool:
        return short or any(abs(cue.sentence - s) <= 1 for s in gate_sentences)

    # An act of killing oneself ("kms", "end my life") carries its own intent.
    wished = [c for c in cues if c.kind == "wish"] + [c for c in death if _NET_ACT.search(context.text, c.start, c.end)]
    means = [c for c in cues if c.kind == "means" and near_gate(c)]
    timing = [c for c in cues if c.kind == "timing" and near_gate(c)]
    death_sentences = {c.sentence for c in death}
    farewell_near = [c for c in farewells if c in final_farewells or any(abs(c.sentence - s) <= 1 for s in death_sentences)]

    # A foreign death word counts as a wish, because the lexicon holds only first-person phrases and verbs.
    wish = bool(wished) or (not supported and bool(death))
    kinds = sum(map(bool, (wish, means, timing, farewell_near)))
    if kinds >= 2:
        max_score = _NET_CRITICAL_MAX
    elif wish:
        max_score = _NET_CAUTION_MAX
    else:
        max_score = _NET_WATCH_MAX

    counted = death + wished + means + timing + farewell_near
    severity = _NET_SEVERITY[max_score]
    hits = [_Hit(f"net.{c.kind}", _NET_CATEGORY[c.kind], severity, c.start, c.end) for c in counted]
    return hits, max_score


def _farewell_is_final(context: "_Context", cue: _Cue, farewells: list[_Cue]) -> bool:
    """Whether a farewell or preparation is final: a word of finality near it, or three distinct acts."""
    sentence_start, sentence_end = context.sentence(cue.start)
    start = context.sentence(max(0, sentence_start - 1))[0]
    end = context.sentence(min(len(context.text) - 1, sentence_end))[1]
    if (_ORDINARY_DEPARTURE.search(context.text, start, end)
            or rules.NET_ORDINARY_REHOME.search(context.text, start, end)):
        return False
    if rules.NET_FINALITY.search(context.text, start, end):
        return True
    return len({context.text[c.start:c.end] for c in farewells}) >= 3


def _net_label(score: int) -> str:
    if score <= BANDS[0].high:
        return "acute self-harm risk"
    return "passive death wish"


# Learned model ----------------------------------------------------------------
#
# The model (services/seda/model.py) reads the whole text and reaches wordings that
# no rule lists. Its band sets a maximum score, so it can raise risk but never lower
# the risk the rules found. Its signal points at the sentence that drove the band.


def _load_model() -> seda_model.Model | None:
    """Load the weights at import, so that the first request does not pay for reading them."""
    try:
        return seda_model.default_model()
    except FileNotFoundError:
        # tools/train_seda.py imports this module before any weights exist; assess() raises then.
        return None


def _load_encoder() -> seda_encoder.Encoder | None:
    try:
        return seda_encoder.default_encoder()
    except FileNotFoundError:
        # tools/train_seda_encoder.py runs before the encoder files exist; assess() raises then.
        return None


_MODEL = _load_model()
_ENCODER = _load_encoder()
_MODEL_MAX_SCORE = {"critical": 29, "caution": 45, "watch": 70, "clear": 100}
_MODEL_SEVERITY = {"critical": rules.HIGH, "caution": rules.MODERATE, "watch": rules.LOW}
_SPAN_TRIM = " \n.!?;,"


def _model_hit(prediction: seda_model.ModelResult, folded: str) -> _Hit:
    start, end = prediction.start, prediction.end
    while start < end and folded[start] in _SPAN_TRIM:
        start += 1
    while end > start and folded[end - 1] in _SPAN_TRIM:
        end -= 1
    if start == end:
        start, end = prediction.start, prediction.end
    return _Hit(f"model.{prediction.category}", prediction.category, _MODEL_SEVERITY[prediction.band], start, end)


def _model_label(prediction: seda_model.ModelResult) -> str:
    if prediction.band == "critical":
        return "acute self-harm risk"
    return _LABELS[prediction.category]


# Scoring --------------------------------------------------------------------

# Risk points of one signal, by category and severity (low, moderate, high, severe).
# The score is 100 minus the points; the values set which band one signal alone reaches.
_POINTS = {
    "wish_to_be_dead": (15, 58, 66, 76),
    "active_ideation": (18, 60, 76, 86),
    "method": (15, 45, 76, 88),
    "intent": (18, 62, 80, 90),
    "plan": (18, 62, 82, 92),
    "preparatory_behavior": (14, 35, 74, 88),
    "psychosis_mania": (12, 58, 64, 80),
    "substance_use": (10, 32, 42, 78),
    "acute_distress": (12, 34, 44, 52),
}
# Each further rule of the same category adds points, up to a cap.
_POINTS_PER_EXTRA_RULE = 10
_EXTRA_RULE_CAP = 20
# Substance use or distress alone stays in watch (score 48 or more), and psychosis
# or mania below severe stays in caution (score 34 or more).
_CATEGORY_CAP = {"substance_use": 52, "acute_distress": 52, "psychosis_mania": 66}
# Without a suicide-related signal of moderate or more, or a severe one of another
# category, the score stays above critical.
_NON_SUICIDAL_MAX_POINTS = 70
# Share of the points of every category but the strongest that adds to the total.
_CROSS_CATEGORY_SHARE = 0.25

_CRITICAL_POINTS = 76  # score 24
_CAUTION_POINTS = 56  # score 44
_SUICIDE_CATEGORIES = ("wish_to_be_dead", "active_ideation", "method", "intent", "plan", "preparatory_behavior")
_THOUGHT_CATEGORIES = ("wish_to_be_dead", "active_ideation", "intent", "plan")

_SUICIDE_LABELS = frozenset({"passive death wish", "self-harm ideation"})
_LABELS = {
    "wish_to_be_dead": "passive death wish",
    "active_ideation": "self-harm ideation",
    "method": "self-harm ideation",
    "intent": "self-harm ideation",
    "plan": "self-harm ideation",
    "preparatory_behavior": "self-harm ideation",
    "psychosis_mania": "reality-testing concern",
    "substance_use": "substance use",
    "acute_distress": "elevated distress",
}


def _score(hits: list[_Hit], supported: bool) -> tuple[int, str]:
    """Combine the hits into a score and the label of the dominant concern."""
    points = {category: _category_points(category, [h for h in hits if h.category == category])
              for category in CATEGORIES}
    top = {category: max((h.severity for h in hits if h.category == category), default=-1)
           for category in CATEGORIES}

    strongest = max(CATEGORIES, key=lambda c: points[c])
    total = points[strongest] + _CROSS_CATEGORY_SHARE * sum(p for c, p in points.items() if c != strongest)

    floor, dual = _combination_floor(hits, top)
    total = max(total, floor)
    if max(top[c] for c in _SUICIDE_CATEGORIES) < rules.MODERATE and max(top.values()) < rules.SEVERE:
        total = min(total, _NON_SUICIDAL_MAX_POINTS)

    score = max(0, min(100, round(100 - total)))
    if not supported:
        score = min(score, UNSUPPORTED_LANGUAGE_MAX_SCORE)
    return score, _label(score, strongest, points, dual, supported)


def _category_points(category: str, hits: list[_Hit]) -> float:
    if not hits:
        return 0.0
    ranked = sorted(hits, key=lambda h: -h.severity)
    best = _POINTS[category][ranked[0].severity]

    # Further rules add only where they do not cover the same words as a stronger hit.
    extra_rules = set()
    for hit in ranked[1:]:
        overlaps = any(other.start < hit.end and hit.start < other.end and other.severity >= hit.severity
                       for other in ranked if other is not hit and other.rule != hit.rule)
        if hit.rule != ranked[0].rule and not overlaps:
            extra_rules.add(hit.rule)

    total = best + min(_EXTRA_RULE_CAP, _POINTS_PER_EXTRA_RULE * len(extra_rules))
    if ranked[0].severity == rules.SEVERE:
        return total
    return min(total, _CATEGORY_CAP.get(category, 100))


def _combination_floor(hits: list[_Hit], top: dict[str, int]) -> tuple[float, bool]:
    """Minimum points set by combinations of categories; also whether dual diagnosis applies."""
    moderate, low = rules.MODERATE, rules.LOW
    thoughts = max(top[c] for c in _THOUGHT_CATEGORIES)
    floor = 0.0

    # A method together with thoughts of dying (C-SSRS: thoughts plus method).
    if top["method"] >= low and thoughts >= moderate:
        floor = _CRITICAL_POINTS
    if top["method"] >= moderate and top["preparatory_behavior"] >= moderate:
        floor = _CRITICAL_POINTS

    # Several farewell or preparation cues (low counts 1, moderate 2, high 3, severe 4).
    weight = sum(h.severity + 1 for h in _distinct_cues(hits, "preparatory_behavior"))
    if weight >= 4 or (top["preparatory_behavior"] >= moderate and thoughts >= moderate):
        floor = _CRITICAL_POINTS
    elif weight == 3:
        floor = max(floor, _CAUTION_POINTS)

    # Intent together with a wish, ideation or distress.
    if top["intent"] >= moderate and (max(top["wish_to_be_dead"], top["active_ideation"]) >= moderate
                                      or top["acute_distress"] >= moderate):
        floor = _CRITICAL_POINTS

    # Two or more distinct signs of psychosis or mania.
    if len(_distinct_rules(hits, "psychosis_mania")) >= 2:
        floor = max(floor, _CAUTION_POINTS)

    # Dual diagnosis: substance use with mood or psychosis signals.
    dual = top["substance_use"] >= moderate and (
        top["psychosis_mania"] >= low or top["acute_distress"] >= moderate
        or top["wish_to_be_dead"] >= low or top["active_ideation"] >= low)
    if dual:
        floor = max(floor, _CAUTION_POINTS)
    return floor, dual


def _distinct_cues(hits: list[_Hit], category: str) -> list[_Hit]:
    """The hits of ``category``, at most two per rule, strongest first."""
    per_rule: dict[str, list[_Hit]] = {}
    for hit in sorted(hits, key=lambda h: -h.severity):
        if hit.category == category and len(per_rule.setdefault(hit.rule, [])) < 2:
            per_rule[hit.rule].append(hit)
    return [hit for group in per_rule.values() for hit in group]


def _distinct_rules(hits: list[_Hit], category: str) -> list[_Hit]:
    best: dict[str, _Hit] = {}
    for hit in hits:
        if hit.category == category and (hit.rule not in best or hit.severity > best[hit.rule].severity):
            best[hit.rule] = hit
    return list(best.values())


def _label(score: int, strongest: str, points: dict[str, float], dual: bool, supported: bool) -> str:
    if score >= BANDS[-1].low:
        return "no elevated risk"
    if score <= BANDS[0].high:
        return "acute self-harm risk"
    if dual and max(points[c] for c in _SUICIDE_CATEGORIES) < _POINTS["active_ideation"][rules.MODERATE]:
        return "dual diagnosis risk"
    if points[strongest] == 0:
        return "no elevated risk" if supported else "language not supported"
    return _LABELS[strongest]
