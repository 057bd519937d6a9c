"""Text folding for the SEDA scorer: a matchable form of the text, an index map and a language guess.

The rules in scorer_rules match a folded copy of the journal text. It is lowercase,
without accents or zero-width characters, and with whitespace collapsed.
Compatibility forms (fullwidth, mathematical letters, ligatures) are decomposed.
Cyrillic and Greek look-alikes and leetspeak inside words become Latin letters.
A pause inside a sentence is a space: an ellipsis, a dash or a line break before a
lowercase word ("I want to... die"), a comma or colon after "to", brackets around one
word ("I want to (die)"), and quotes around one word after "want to" and the like.
``fold`` returns that copy together with ``origin``, where ``origin[i]`` is the code
point index in the original text of folded character ``i``. A match on
``folded[a:b]`` therefore points at ``text[origin[a]:origin[b - 1] + 1]``.

Pure and stateless apart from bounded per-character caches. No I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata

# Folded text never contains NUL, so it marks a character that the deletion pass drops.
_DROP = "\x00"

# Characters that compatibility decomposition leaves alone but that readers take as
# these ASCII ones.
_PUNCTUATION = {
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u02bc\u02bb\u02b9\u0060\u00b4\u2032\uff07", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e", '"'),
    **dict.fromkeys("\u2010\u2011\u2012\u2212", "-"),
    # en and em dashes stand between words, not inside them ("going to\u2014end it")
    **dict.fromkeys("\u2013\u2014\u2015\u2e3a\u2e3b", " "),
    "\u2026": ".",
    "\u0131": "i",
}

# Cyrillic, Greek, Armenian, Cherokee and small-capital letters that look like Latin
# ones (a subset of the Unicode confusables table, chosen for lowercase text). Applied
# only when Latin letters are the majority, so that Russian or Greek text keeps its own
# letters.
_LOOKALIKES = {
    # Cyrillic
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m",
    "\u043d": "h", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y",
    "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u04bb": "h",
    "\u04cf": "l", "\u0501": "d", "\u051b": "q", "\u051d": "w", "\u0433": "r", "\u0438": "u",
    "\u043f": "n", "\u044c": "b",
    # Greek
    "\u03b1": "a", "\u03b2": "b", "\u03b5": "e", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v",
    "\u03bf": "o", "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03b7": "n",
    "\u03c9": "w", "\u03b3": "y",
    # small capitals and other Latin-looking letters
    "\u1d00": "a", "\u0299": "b", "\u1d04": "c", "\u1d05": "d", "\u1d07": "e", "\u0493": "f",
    "\u0262": "g", "\u029c": "h", "\u026a": "i", "\u1d0a": "j", "\u1d0b": "k", "\u029f": "l",
    "\u1d0d": "m", "\u0274": "n", "\u1d0f": "o", "\u1d18": "p", "\u0280": "r", "\ua731": "s",
    "\u1d1b": "t", "\u1d1c": "u", "\u1d20": "v", "\u1d21": "w", "\u028f": "y", "\u1d22": "z",
    "\ua730": "f", "\ua7af": "q",
    "\u0251": "a", "\u0261": "g", "\u0269": "i", "\u0138": "k",
    # Latin letters with a bar or a stroke, and the regional indicator letters of flags
    "\u00f8": "o", "\u0268": "i",
    **{chr(0x1f1e6 + offset): chr(ord("a") + offset) for offset in range(26)},
    # Armenian
    "\u0578": "n", "\u057d": "u", "\u0570": "h", "\u0585": "o", "\u0581": "g", "\u0561": "w", "\u057c": "n",
    # Cherokee, in the small letters that lower() gives for the capitals
    **{chr(0xab70 + capital - 0x13a0): latin for capital, latin in (
        (0x13a0, "d"), (0x13a1, "r"), (0x13a2, "t"), (0x13a9, "y"), (0x13aa, "a"), (0x13ab, "j"), (0x13ac, "e"),
        (0x13b3, "w"), (0x13b7, "m"), (0x13bb, "h"), (0x13c0, "g"), (0x13c3, "z"), (0x13cf, "b"), (0x13d2, "r"),
        (0x13d4, "w"), (0x13d5, "s"), (0x13d9, "v"), (0x13da, "s"), (0x13de, "l"), (0x13df, "c"), (0x13e2, "p"),
        (0x13e6, "k"))},
}

# Letters and digits typed in place of letters inside a word ("k1ll", "mys3lf", "my$elf").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "|": "l", "8": "b"})

# A letter next to a leet character: the cheap test that a token needs mapping.
_LEET_SEED = re.compile(r"[a-z][0-9@$!|]|[0-9@$!|][a-z]")
_LEET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789@$!|")

# Numbers with a unit or ordinal ("10km", "3am", "2nd", "$50k") keep their digits.
_NUMBER_WITH_UNIT = re.compile(
    r"\$?\d+(?:[.,]\d+)?(?:k|m|b|st|nd|rd|th|am|pm|km|kms|mi|mg|ml|s|x|h|hr|hrs|min|mins|yo|lb|lbs|kg|"
    r"g|d|mo|yr|yrs|ft|cm|mm|gb|mb|tb|p|v|w|hz|mph|kph|c|f)?")

# A number with the wrong ordinal suffix is leetspeak: "3nd" is "end", while "3rd" stays.
_FALSE_ORDINAL = re.compile(r"\d*(?:(?<!1)1(?:nd|rd|th)|(?<!1)2(?:st|rd|th)|(?<!1)3(?:st|nd|th)|[04-9](?:st|nd|rd)"
                            r"|1[0-9](?:st|nd|rd))")

_WHITESPACE_RUN = re.compile(r"[ \n]{2,}")
# Pauses inside a sentence, in the original text: an ellipsis, a dash or a line
# break between a word and a lowercase word, a comma, colon or semicolon after "to",
# and a comma or slash before "myself".
_PAUSE = re.compile(r"(?<=\w)[ \t\r]*(?:\.{2,}|\u2026+|-{2,}|(?<=[ \t])-|\n)[ \t\r]*(?=[a-z])"
                    r"|(?<=\b[Tt]o)[,:;](?=[ \t]*[a-z])|(?<=\w)[ \t]*[,/|][ \t]*(?=my ?self\b)")
# Brackets around one lowercase word after another word ("to (die)"), and quotes around one
# after "want to" and the like ("want to \"die\""). Elsewhere quotes may mark a pretence
# ("I get to \"die\" after the starter"), so they stay.
_WRAPPED_WORD = re.compile(r"(?<=\w )[(\[]([a-z']+)[)\]]"
                           r"|(?:(?<=want to )|(?<=wanna )|(?<=going to )|(?<=gonna )|(?<=need to )|(?<=ready to ))"
                           r"[\"\u201c]([a-z']+)[\"\u201d]")
# Three or more words joined by one repeated separator and no space: "i.want.to.die",
# "i_want_to_die", "i/want/to/die". Two words ("self-harm") stay joined.
_JOINED_WORDS = re.compile(r"(?<![\w./-])[A-Za-z']+([._/-])[A-Za-z']+(?:\1[A-Za-z']+)+(?![\w/-]|\.\w)")
_LETTER_RUN = re.compile(r"([a-z])\1\1+")
# Separators inside a word that only hide it: "self-harm", "sewer_slide", "s.u.i.c.i.d.e".
_INWORD_SEPARATOR = re.compile(r"(?<=[a-z])[-_*](?=[a-z])|(?<=\b[a-z])\.(?=[a-z]\b)")
# Three or more single letters separated by single spaces: "k i l l m e", "d i e".
_SPACED_LETTERS = re.compile(r"(?<![a-z'])[a-z](?: [a-z](?![a-z'])){2,}")
# Words that spaced-out letters are split back into, so that "k i l l m y s e l f"
# reads "kill myself" and not "killmyself". Letters that do not split wholly into
# these words are joined into one word.
_SPACED_WORDS = frozenset("""
i im me my myself self kill killing die dying dead death suicide suicidal end ending it all life want to
going gonna cut hang jump overdose harm unalive kms hate tonight goodbye bye rope pills not live anymore wish
done take taking the
""".split())

# Words that a run of letters typed without spaces is split back into ("iwanttodie",
# "imgoingtokillmyself"). The run is split only when it splits wholly into these
# words and one of them is in _GLUED_CRISIS_WORDS, so "deadline" and "lifetime" stay.
# Runs of 5 to 40 letters are tried.
_GLUED_WORDS = _SPACED_WORDS | frozenset("wanna wish just really so am be go will should need dont cant wont".split())
_GLUED_CRISIS_WORDS = frozenset("""
kill killing die dying dead death suicide suicidal end ending life live myself hang jump overdose harm unalive kms
""".split())
_LONG_WORD = re.compile(r"(?<![a-z'])[a-z]{5,40}(?![a-z'])")
# The words of the encoder's 30,522-token vocabulary that these words also split wholly.
_NOT_GLUED = frozenset({"amend", "diego"})
# "i" glued to the verb after it ("iwant to die").
_GLUED_I = re.compile(r"(?<![a-z'])i(?=(?:want|wanna|wish|need|just|hate|cant|dont|wont)(?![a-z']))")
_GLUED_CRISIS_PIECE = re.compile("|".join(sorted(_GLUED_CRISIS_WORDS, key=len, reverse=True)))

# Misspellings of the words that crisis phrases are built on, which no other word shares.
_TYPOS = {
    **dict.fromkeys("myslef mysefl myslf mysef myseld myselg mydelf myaelf mysekf mysrlf mydself mysel meself".split(),
                    "myself"),
    **dict.fromkeys("kil kll klil kiil".split(), "kill"),
    **dict.fromkeys("suicde sucide suiside sucicide suicie suecide suidice".split(), "suicide"),
    **dict.fromkeys("sucidal suicdal suisidal suicidle".split(), "suicidal"),
    **dict.fromkeys("wnat wamt watn wnt".split(), "want"),
    **dict.fromkeys("diee dei".split(), "die"),
    "lfie": "life",
    "anymroe": "anymore",
    **dict.fromkeys("tonite 2nite 2night".split(), "tonight"),
}
_MISSPELT = re.compile(r"(?<![a-z0-9'])(?:" + "|".join(sorted(_TYPOS, key=len, reverse=True)) + r")(?![a-z0-9'])")
# A lone "2" (or "too") for "to" after a verb of wanting or going ("i want 2 die"). Elsewhere
# "2" stays a number, so that "took 2 pills" keeps its count.
_TWO_FOR_TO = re.compile(r"(?<![a-z'])(?:want|wanna|going|gonna|need|needs|ready|trying|try|about|deserve|deserves"
                         r"|planning|plan|decided|wish|like|used|able|supposed|meant|time) (2|too)(?= [a-z])")
# "b" for "be" after "to" ("i want 2 b dead").
_B_FOR_BE = re.compile(r"(?<![a-z'])(?:to|2|too) (b)(?= [a-z])")


@dataclasses.dataclass(frozen=True)
class FoldedText:
    """A folded copy of a text and the original code point index of each folded character."""

    text: str
    origin: tuple[int, ...] | None  # None when folding kept every index (plain ASCII without edits)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map the folded span [start, end) to a span of the original text."""
        if self.origin is None:
            return start, end
        return self.origin[start], self.origin[end - 1] + 1


def fold(text: str, map_lookalikes: bool | None = None) -> FoldedText:
    """Fold ``text`` for matching and keep the map back to the original code points.

    Cyrillic and Greek look-alikes become Latin letters when ``map_lookalikes`` is
    true, or, when it is None, when Latin letters are the majority of ``text``.
    """
    if map_lookalikes is None:
        map_lookalikes = _latin_is_majority(text)
    text = _without_pauses(text)

    # Step 1: one folded string per original character (usually one character).
    if text.isascii():
        pieces = None
        base = text.lower().translate(_ASCII_FOLD)
    else:
        base = text.translate(_FOLD_TABLES[map_lookalikes])
        # Equal lengths mean that no character expanded, so indices still match.
        if len(base) == len(text):
            pieces = None
        else:
            pieces = [_fold_char(ch, map_lookalikes) for ch in text]
            base = None

    if pieces is None:
        origin = None
        folded = base
    else:
        # A character that expands ("ß" to "ss") maps every output character back to it.
        folded = "".join(pieces)
        origin = [index for index, piece in enumerate(pieces) for _ in piece]

    # Step 2: deletions that change lengths; the index map follows them.
    folded, origin = _delete(folded, origin, _drop_positions(folded))
    folded, origin = _delete(folded, origin, _separator_positions(folded))

    # Step 3: leetspeak, replaced in place so indices do not move.
    folded = _map_leetspeak(folded)

    # Step 4: misspelt and glued words, whose replacements change lengths, and then "2" for
    # "to", which reads the words just restored ("i wnt 2 die").
    folded, origin = _replace(folded, origin, _respellings(folded))
    folded, origin = _replace(folded, origin, _short_forms(folded))

    return FoldedText(folded, None if origin is None else tuple(origin))


def _without_pauses(text: str) -> str:
    """Return ``text`` with its pauses inside sentences as spaces, at the same length so that indices still match."""
    text = _PAUSE.sub(lambda m: " " * len(m.group()), text)
    text = _JOINED_WORDS.sub(lambda m: m.group().replace(m.group(1), " "), text)
    return _WRAPPED_WORD.sub(lambda m: f" {m.group(1) or m.group(2)} ", text)


# ASCII text skips the per-character tables, so its whitespace and backtick apostrophe are mapped here.
_ASCII_FOLD = str.maketrans({"\t": " ", "\r": " ", "\f": " ", "\v": " ", "`": "'"})


@functools.lru_cache(maxsize=8192)
def _fold_char(ch: str, map_lookalikes: bool) -> str:
    """Fold one non-ASCII character; ``_DROP`` marks a character to delete."""
    if ch in _PUNCTUATION:
        return _PUNCTUATION[ch]
    if ch.isspace():
        return "\n" if ch in "\n\u2028\u2029\x85" else " "

    category = unicodedata.category(ch)
    if category in ("Cf", "Mn", "Me", "Cc"):
        # Zero-width characters, variation selectors, soft hyphens, combining marks.
        return _DROP

    decomposed = unicodedata.normalize("NFKD", ch)
    unmarked = "".join(c for c in decomposed if unicodedata.category(c) not in ("Mn", "Me", "Cf"))
    lowered = unmarked.lower()
    if map_lookalikes:
        lowered = "".join(_LOOKALIKES.get(c, c) for c in lowered)
    return lowered or _DROP


class _FoldTable(dict):
    """A ``str.translate`` table that folds each code point on first use and keeps the result."""

    _MAX_SIZE = 8192

    def __init__(self, map_lookalikes: bool) -> None:
        super().__init__()
        self.map_lookalikes = map_lookalikes

    def __missing__(self, code: int) -> str:
        if len(self) >= self._MAX_SIZE:
            self.clear()
        folded = self[code] = _fold_char(chr(code), self.map_lookalikes)
        return folded


_FOLD_TABLES = {False: _FoldTable(False), True: _FoldTable(True)}


def _latin_is_majority(text: str) -> bool:
    """Whether Latin letters outnumber other letters, or every other letter is a Latin look-alike."""
    return _latin_letters(text) != "none"


def _latin_letters(text: str) -> str:
    """Return "plain" when Latin letters outnumber other letters, "disguised" when the other
    letters outnumber them but are all Latin look-alikes, and "none" otherwise."""
    latin = len(_NOT_LATIN_LETTER.sub("", text))
    other = _NOT_OTHER_LETTER.sub("", text)
    if latin >= len(other):
        return "plain"
    # Text spelled only in look-alikes ("\u0455\u0443\u0456\u0441\u0456\u0434\u0435") is disguised
    # Latin, while Russian or Greek text almost always has a letter without a Latin twin.
    return "disguised" if other and all(ch.lower() in _LOOKALIKES for ch in other) else "none"


_NOT_LATIN_LETTER = re.compile(r"[^A-Za-z\u00c0-\u024f\uff21-\uff3a\uff41-\uff5a]+")
_NOT_OTHER_LETTER = re.compile(r"[^\u0370-\u03ff\u0400-\u06ff\u0900-\u0dff\u0e00-\u0e7f\u13a0-\u13ff"
                               r"\u3040-\u30ff\u3400-\u9fff\uab70-\uabbf\uac00-\ud7af]+")


def _drop_positions(folded: str) -> list[int]:
    """Positions of dropped characters, surplus whitespace and letters repeated past two."""
    positions = [m.start() for m in re.finditer(_DROP, folded)] if _DROP in folded else []

    for match in _WHITESPACE_RUN.finditer(folded):
        run = match.group()
        keep = match.start() + (run.index("\n") if "\n" in run else 0)
        positions.extend(i for i in range(match.start(), match.end()) if i != keep)

    for match in _LETTER_RUN.finditer(folded):
        positions.extend(range(match.start() + 2, match.end()))

    # Leading whitespace carries nothing.
    lead = len(folded) - len(folded.lstrip(" \n"))
    positions.extend(range(lead))
    return positions


def _separator_positions(folded: str) -> list[int]:
    positions = [m.start() for m in _INWORD_SEPARATOR.finditer(folded)]
    for match in _SPACED_LETTERS.finditer(folded):
        spaces = [i for i in range(match.start(), match.end()) if folded[i] == " "]
        breaks = _word_breaks(folded[match.start():match.end()].replace(" ", ""))
        # Space number k follows letter k + 1, and a word break after that letter keeps the space.
        positions.extend(space for number, space in enumerate(spaces) if number + 1 not in breaks)
    return positions


def _respellings(folded: str) -> list[tuple[int, int, str]]:
    """Return the (start, end, replacement) edits that restore misspelt and glued crisis words."""
    edits = [(m.start(), m.end(), _TYPOS[m.group()]) for m in _MISSPELT.finditer(folded)]
    edits += [(m.end(), m.end(), " ") for m in _GLUED_I.finditer(folded)]
    for match in _LONG_WORD.finditer(folded):
        if match.group() in _TYPOS:
            continue
        # An empty span before a letter inserts a space there.
        edits.extend((match.start() + count, match.start() + count, " ") for count in _glued_breaks(match.group()))
    return sorted(edits)


def _short_forms(folded: str) -> list[tuple[int, int, str]]:
    """Return the (start, end, replacement) edits that write out "2" or "too" for "to" and "b" for "be"."""
    edits = [(m.start(1), m.end(1), "to") for m in _TWO_FOR_TO.finditer(folded)]
    edits += [(m.start(1), m.end(1), "be") for m in _B_FOR_BE.finditer(folded)]
    return sorted(edits)


@functools.lru_cache(maxsize=4096)
def _glued_breaks(word: str) -> tuple[int, ...]:
    """Return where to split ``word`` into _GLUED_WORDS with a crisis word among them, or () to keep it whole."""
    if word in _GLUED_WORDS or word in _NOT_GLUED or not _GLUED_CRISIS_PIECE.search(word):
        return ()
    breaks = sorted(_word_breaks(word, _GLUED_WORDS))
    bounds = [0, *breaks, len(word)]
    if not any(word[start:end] in _GLUED_CRISIS_WORDS for start, end in zip(bounds, bounds[1:])):
        return ()
    return tuple(breaks)


def _replace(folded: str, origin: list[int] | None, edits: list[tuple[int, int, str]]) -> tuple[str, list[int] | None]:
    """Apply the sorted, non-overlapping ``edits`` to ``folded`` and to its index map.

    Each character of a replacement maps to the first original character of the span
    it replaces, and an inserted character to the character after it.
    """
    if not edits:
        return folded, origin
    if origin is None:
        origin = list(range(len(folded)))

    parts: list[str] = []
    new_origin: list[int] = []
    previous = 0
    for start, end, replacement in edits:
        parts.append(folded[previous:start])
        new_origin.extend(origin[previous:start])
        parts.append(replacement)
        new_origin.extend([origin[start]] * len(replacement))
        previous = end
    parts.append(folded[previous:])
    new_origin.extend(origin[previous:])
    return "".join(parts), new_origin


def _word_breaks(letters: str, vocabulary: frozenset[str] = _SPACED_WORDS) -> frozenset[int]:
    """Return the letter counts after which ``vocabulary`` splits ``letters`` wholly, or none when it does not."""
    # best[i]: the word breaks of letters[:i] with the fewest words, or None.
    best: list[tuple[int, ...] | None] = [()] + [None] * len(letters)
    for end in range(1, len(letters) + 1):
        for start in range(max(0, end - 9), end):
            if best[start] is not None and letters[start:end] in vocabulary:
                candidate = best[start] + (end,)
                if best[end] is None or len(candidate) < len(best[end]):
                    best[end] = candidate
    return frozenset(best[-1][:-1]) if best[-1] else frozenset()


def _delete(folded: str, origin: list[int] | None, positions: list[int]) -> tuple[str, list[int] | None]:
    """Delete ``positions`` from ``folded`` and from its index map."""
    return _replace(folded, origin, [(index, index + 1, "") for index in sorted(set(positions))])


def _map_leetspeak(folded: str) -> str:
    """Replace leet characters inside words that also contain letters, keeping the length."""
    seeds = list(_LEET_SEED.finditer(folded))
    if not seeds:
        return folded

    chars = list(folded)
    covered_until = -1
    for seed in seeds:
        if seed.start() < covered_until:
            continue
        start, end = seed.start(), seed.end()
        while start > 0 and folded[start - 1] in _LEET_CHARS:
            start -= 1
        while end < len(folded) and folded[end] in _LEET_CHARS:
            end += 1
        covered_until = end

        token = folded[start:end]
        # Trailing "!" and "|" are punctuation, not letters.
        core = token.rstrip("!|")
        if _NUMBER_WITH_UNIT.fullmatch(core) and not _FALSE_ORDINAL.fullmatch(core):
            continue
        chars[start:start + len(core)] = core.translate(_LEET)
    return "".join(chars)


# Language guess ---------------------------------------------------------------

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")

# Frequent English function words and journal words. A text whose words are mostly
# outside this list is not taken for English.
_ENGLISH = frozenset("""
a about after again all also always am an and any anymore anyone anything are around as at away back be
because been before being better but by can can't cant could couldn't day days did didn't do does
doesn't don't dont down even ever every everyone everything feel feeling feels felt for from get gets
getting go going gonna got had has have haven't having he her here him his how i i'd i'll i'm i've id if
im in into is isn't it it's its just know last less life like little lot made make many may me might
more most much my myself need never next no nobody not nothing now of off ok okay on one only or other
our out over people really right said same say see she should since so some someone something still such
than that that's the their them then there these they thing things think this those though through time
to today told tomorrow tonight too try trying up us very want wanna wanted was wasn't way we well went
were what when where which while who why will with without won't would wouldn't yeah yes yet you your
yourself week weekend night morning work feel tired happy sad good great new old first last big best
love loved hate fun funny excited party ideas idea friend friends family mom dad home house school class
job boss money dinner lunch food coffee pizza movie show game games music song phone text call read
watch watched bed sleep slept hours minutes year years month tonight's finally guess maybe probably
actually literally honestly pretty super sure thanks thank please lol lmao omg idk ngl tbh brb gtg ttyl
lmk omw smh rn btw imo irl jk nvm pls plz thx ty ur yall kk bruh hbu wyd hmu gotta kinda sorta lowkey
dunno
""".split())

# Frequent words of other languages written in Latin script, without accents (folding
# removes them) and without words that are also common in English.
_OTHER_LANGUAGES = {
    "es": "que el la los las por para con una pero muy esta estoy es mi yo lo del como mas cuando porque ya "
          "tengo quiero nada todo hoy se su sin ser hacer puedo siento vida y mis tu hay pueden dia".split(),
    "fr": "je le les et est pas une des du qui mais pour avec suis mon ma ne ce il elle tout tres rien "
          "j'ai c'est aujourd'hui sais quoi peux plus veux moi sont au aux".split(),
    "de": "ich und nicht der das ist ein eine mit auf fur mich mir aber sehr auch wie noch kann nur "
          "heute bin war habe den dem zu es ist sind wir".split(),
    "pt": "eu nao uma com voce muito estou mais mas isso tudo nada hoje meu minha sou ate o os e "
          "aguento amanha vai ser melhor trabalho".split(),
    "it": "io non il che sono una per con mi ma molto questo tutto oggi niente della anche sento "
          "domani andra meglio giu".split(),
    "nl": "ik het een niet en van dat met voor maar ook zijn mijn heb wil vandaag zo moe alles gewoon".split(),
    "id": "saya aku tidak yang dan ini itu dengan untuk ingin mau sudah tapi sangat hari lelah tidur saja".split(),
    "tr": "ben bir ve bu cok ama icin degil gibi daha artik istiyorum bugun yorgunum yarin olacak iyi".split(),
    "tl": "ako ang mga hindi sa ng na ko gusto ayoko naman lang talaga".split(),
    "pl": "nie jest sie jak ale juz mnie tak bardzo chce jestem dzis".split(),
}
_OTHER_LANGUAGES["es"] += "quiero aguanto morir manana noche todos estoy nadie contigo muero risa jaja jajaja jajajaja".split()
_OTHER_LANGUAGES["pt"] += "quero morrer consigo ninguem amanha noite todos".split()
_OTHER_LANGUAGES["fr"] += "veux mourir soir demain personne toujours".split()
_OTHER_LANGUAGES["de"] += "sterben mehr morgen umbringen niemand nacht".split()
_OTHER_LANGUAGES["it"] += "voglio morire stasera nessuno".split()
_OTHER_WORDS = {code: frozenset(words) - _ENGLISH for code, words in _OTHER_LANGUAGES.items()}

# English words that are also frequent words of another language listed above ("no" in
# Spanish, "will" and "die" in German, "me" in Spanish and French), so they count for
# neither side. Without this, "Ich will sterben" would count one English word.
_SHARED_WORDS = frozenset("no me a so will die was also man in on son once fin hat bin come pan".split())

# Letters with diacritics that English text rarely contains, and the language they
# point to. Each one found adds one hit to that language.
_DIACRITICS = (
    (re.compile(r"[\u00f1\u00bf\u00a1]"), "es"),  # n with tilde, inverted ? and !
    (re.compile(r"[\u00e3\u00f5]"), "pt"),  # a and o with tilde
    (re.compile(r"[\u00e8\u00ea\u00e0\u00e2\u00ee\u00f4\u00fb\u0153\u00e7]"), "fr"),
    (re.compile(r"[\u00df\u00e4\u00f6\u00fc]"), "de"),
)

# Scripts whose text is one language in practice; Cyrillic and Arabic script serve many.
_SCRIPTS = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),
    (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u3400-\u9fff]"), "zh"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
)


def detect_language(text: str, folded: str, locale: str = "") -> str:
    """Guess the language of ``text`` from its script and its frequent words.

    Returns a language code such as "en" or "es", or "und" when the guess has no
    basis. A Latin-script text of fewer than four words with no word of another
    language counts as English, or as the language of ``locale`` when one is given.
    With an English ``locale``, one English word is enough when no word of another
    language is found, so that chat with few function words ("brb gtg") stays English.
    With a ``locale`` of another language, a text whose words are not mostly English is
    in that language ("me muero de risa" with es-MX).
    """
    letters = _latin_letters(text)
    if letters == "none":
        for pattern, code in _SCRIPTS:
            if pattern.search(text):
                return code
        return "und"

    words = _WORD.findall(folded)
    if not words:
        return "und"

    english = sum(1 for word in words if word in _ENGLISH and word not in _SHARED_WORDS)
    # Short Russian may use only letters with Latin twins: "\u041e\u043d \u043d\u0430 \u043c\u043e\u0441\u0442\u0443"
    # reads "oh ha mocty" as Latin. Disguised English reads as English words.
    if letters == "disguised" and english == 0:
        return "und"
    lowered = text.lower()
    best_code, best_hits = "und", 0
    for code, vocabulary in _OTHER_WORDS.items():
        hits = sum(1 for word in words if word in vocabulary)
        hits += sum(1 for pattern, marked in _DIACRITICS if marked == code and pattern.search(lowered))
        if hits > best_hits:
            best_code, best_hits = code, hits

    # One foreign word decides a short text ("quero me matar") when no English word outweighs it.
    if best_hits >= 1 and best_hits > english:
        return best_code
    english += sum(1 for word in words if word in _SHARED_WORDS)
    # The platform's locale names another language, and English words are not the majority
    # ("me muero de risa jajaja" with es-MX): the text is in the locale's language.
    hinted = _locale_language(locale)
    if hinted and hinted != "en" and english < 0.5 * len(words):
        return hinted
    # NOTE: with an English locale, text in a language missing from _OTHER_LANGUAGES that
    # holds one English word counts as English, so it loses the cap of unsupported text.
    if english >= 1 and (english >= 0.2 * len(words) or (best_hits == 0 and _locale_language(locale) == "en")):
        return "en"
    if len(words) < 4 and best_hits == 0:
        return _locale_language(locale) or "en"
    return best_code if best_hits >= 1 else "und"


def _locale_language(locale: str) -> str:
    """Return the language subtag of ``locale`` in lower case, or "" when it has none."""
    hint = locale.replace("_", "-").split("-")[0].lower()
    return hint if hint.isalpha() and len(hint) in (2, 3) else ""
