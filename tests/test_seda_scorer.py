"""Unit tests of the pure SEDA scorer: bands per failure mode, spans, boundaries, limits."""

import importlib.util
import pathlib
import sys
import time

import pytest

from services.seda import scorer
from services.seda.scorer import assess, without_repeated_sentences
from services.seda.scorer_text import fold

ROOT = pathlib.Path(__file__).resolve().parent.parent


def band(text: str, locale: str = "") -> str:
    return assess(text, locale).band


def signal_texts(text: str) -> list[str]:
    return [text[s.start:s.end] for s in assess(text).signals]


# One case per failure-mode family, written for these tests (not taken from eval/seda).
FAMILY_CASES = [
    ("crisis_direct", "I want to kill myself and I can't stop thinking about it.", "critical"),
    ("crisis_oblique", "Everyone would be better off without me, and after Friday they will not have to worry about me again.", "critical"),
    ("farewell", "This is my last entry. Thank you for everything. Please take care of my cat for me.", "critical"),
    ("plan_method", "I've been saving my pills for a month and I know exactly when I'll do it.", "critical"),
    ("preparatory", "I wrote letters to my family and gave away most of my things.", "critical"),
    ("passive_wish", "Some days I wish I could go to sleep and never wake up.", "caution"),
    ("sleep_intent", "Tonight I'm going to go to sleep for good. Everything is sorted.", "critical"),
    ("sleep_intent_reported", "My flatmate says he's going to sleep for good after his finals.", "clear"),
    ("psychosis_mania", "The planets are sending me secret messages that only I can decode.", "caution"),
    ("substance", "I've been drinking every night to fall asleep.", "watch"),
    ("dual_diagnosis", "I've been drinking alone every night and I feel completely hopeless.", "caution"),
    ("distress", "I feel so worthless and empty lately.", "watch"),
    ("negation", "I would never kill myself, I just hate Mondays.", "clear"),
    ("retraction", "I said I wanted to die but I didn't mean it, I was just angry.", "clear"),
    ("idiom_deadline", "This deadline is killing me.", "clear"),
    ("idiom_embarrassment", "I could just die of embarrassment.", "clear"),
    ("idiom_dying_to", "Dying to see the new tarot deck!", "clear"),
    ("idiom_hang_object", "Gonna hang myself a new picture frame in the hallway.", "clear"),
    ("idiom_one_more", "One more meeting and I'll shoot myself, lol", "clear"),
    ("one_more_day", "One more day like this and I'll kill myself.", "critical"),
    ("opioids_and_wine", "Swallowed five of my dad's oxys and half a bottle of vodka, whatever happens happens.", "critical"),
    ("rope_tested", "Tied the knot into the rope in the garage and made sure the rafter takes my weight.", "critical"),
    ("rope_swing", "Tied a loop in the rope for the tyre swing and checked the branch holds my nephew.", "clear"),
    ("voice_jump", "The voices say I should jump, and then everything will be still.", "critical"),
    ("told_jump_shower", "My sister told me to jump in the pool before lunch.", "clear"),
    ("suicide_never_crossed", "Honestly suicide has never crossed my mind, not even in the bad years.", "clear"),
    ("asked_want_die_no", "The nurse asked if I wanted to die and I said no, and that's the truth.", "clear"),
    ("asked_want_die_yes", "The nurse asked if I wanted to die and I said yes.", "critical"),
    ("fiction_note", "In the film, the detective finds a goodbye letter in the car.", "clear"),
    ("third_person", "My friend said she wants to die, how can I help her?", "clear"),
    ("past_resolved", "Two years ago I wanted to end it; therapy helped and I'm doing much better.", "clear"),
    ("anniversary_resolved", "Eight years ago today I tried to end my life. Today I took my kids to the beach and I'm so glad I'm here.", "clear"),
    ("anniversary_again", "A year ago today I tried to end my life, and tonight I want to try again.", "critical"),
    ("attempt_then_again", "Ten years ago I tried to kill myself. Today I want to try again.", "critical"),
    ("exam_then_again", "I failed my driving exam last month and I'm going to try again in spring.", "clear"),
    ("past_feeling_back", "In college I used to think about dying a lot. Some of that feeling is creeping back.", "caution"),
    ("past_then_came_back", "In college I used to think about dying a lot. Then I came back home and got better.", "clear"),
    ("cya_never", "cya never \U0001f44b", "critical"),
    ("goodnight_forever", "gn forever guys", "critical"),
    ("remember_me_bye", "remember me ok? bye", "critical"),
    ("remember_me_famous", "remember me when I'm famous lol. bye", "clear"),
    ("remember_me_question", "hey do you remember me? bye", "clear"),
    ("cya_never_blocked", "cya never again, creep, blocked", "clear"),
    ("good_night_good_luck", "Good night for good luck charms at the market.", "clear"),
    ("fault_everyday", "Tell my mom it wasn't her fault the cake burned.", "clear"),
    ("fault_note", "It's not your fault that I'm gone. Take care of each other.", "critical"),
    ("russian_latin_twins", "\u041e\u043d \u043d\u0430 \u043c\u043e\u0441\u0442\u0443.", "watch"),
    ("age_past", "At 16 I wrote a goodbye note I never used. I'm 34 now, and I rang my mum after reading it.", "clear"),
    ("age_present", "At 22 I want to die, every single day.", "critical"),
    ("study_notes", "Revision for the psych exam: Durkheim's theory of suicide and suicide risk factors in older men.", "clear"),
    ("lyrics", "Singing 'I want to die tonight' along with my favourite song in the car.", "clear"),
    ("cyrillic", "I want to k\u0456ll mys\u0435lf.", "critical"),
    ("zero_width", "I want to k\u200bill my\u200bself.", "critical"),
    ("fullwidth", "\uff49 \uff57\uff41\uff4e\uff54 \uff54\uff4f \uff44\uff49\uff45", "critical"),
    ("typographic_apostrophe", "I don\u2019t want to live anymore.", "critical"),
    ("leetspeak", "gonna k1ll mys3lf", "critical"),
    ("joined_dots", "i.want.to.die.", "critical"),
    ("joined_underscores", "i_want_to_die", "critical"),
    ("joined_hyphens", "i-want-to-die", "critical"),
    ("joined_slashes", "I/WANT/TO/DIE", "critical"),
    ("joined_everyday", "My mother-in-law is visiting; the state-of-the-art kitchen is done.", "clear"),
    ("glued", "iwanttodie", "critical"),
    ("glued_intent", "imgoingtokillmyself tonight", "critical"),
    ("glued_everyday", "deadline lifetime killall itsallgood", "clear"),
    ("two_for_to", "i want 2 die", "critical"),
    ("two_for_to_everyday", "2 die for! this cake is 2 good", "clear"),
    ("typos", "i want to kil myslef", "critical"),
    ("typo_suicide", "i want to commit sucide", "critical"),
    ("retraction_undone", "i want to die lol jk unless?", "caution"),
    ("goodnight_forever_this_time", "gn forever this time", "critical"),
    ("glued_no_crisis_word", "idontwanttoliveanymore", "critical"),
    ("letters_repeated", "i want to dieeee", "critical"),
    ("typo_and_two", "i wnt 2 die", "critical"),
    ("b_for_be", "i want 2 b dead", "critical"),
    ("leet_false_ordinal", "g0nna 3nd my l1fe t0n1ght", "critical"),
    ("jump_from_roof", "I'm on the roof of my building and I'm going to jump.", "critical"),
    ("jump_nerve_overpass", "I've been standing on the overpass for an hour working up the nerve to jump.", "critical"),
    ("jump_diving_board", "standing on the diving board, about to jump", "clear"),
    ("kms_before_annoyance", "kms this wifi is so slow", "clear"),
    ("kms_before_life", "kms this life is too much", "critical"),
    ("decision_job", "i have made my decision, quitting my job", "clear"),
    ("pills_as_usual", "took my pills with breakfast like usual", "clear"),
    ("story_frame", "In my novel the detective finds a suicide note that turns out to be forged.", "clear"),
    ("one_more_meeting", "if i have to sit through one more meeting i'm gonna die", "clear"),
    ("caused_wish_laughing", "ugh mondays make me want to die lol", "clear"),
    ("done_with_life", "honestly i'm done with life", "caution"),
    ("self_harm_awareness", "self-harm awareness week at school, we made posters", "clear"),
    ("self_harm_training", "the self harm prevention training at work was actually good", "clear"),
    ("unalive_mention", "unalive is such a weird tiktok word lol", "clear"),
    ("unalive_instead_of", "people say unalive instead of suicide on tiktok", "clear"),
    ("spaced_words", "k i l l i n g   m y s e l f   t o n i g h t", "critical"),
    ("unalive", "I want to unalive myself.", "critical"),
    ("kms", "kms, i can't do this", "critical"),
    ("sewerslide", "thinking about sewerslide", "critical"),
    ("ctb", "i want to ctb", "critical"),
    ("kms_kilometres", "I ran 12 kms today.", "clear"),
    ("emoji_crisis", "i'm done \U0001faa6\U0001f52b", "critical"),
    ("emoji_pills", "\U0001f48a\U0001f48a\U0001f48a\U0001f48a tonight", "critical"),
    ("emoji_benign", "Vitamins \U0001f48a and a tarot pull \u2728", "clear"),
    ("emoji_cooking", "Cooking class tonight \U0001f52a", "clear"),
    ("emoji_sailing", "sailing lesson tonight \U0001faa2", "clear"),
    ("emoji_knife_final", "tonight \U0001f52a", "critical"),
    ("emoji_blade_blood_again", "\U0001f614\U0001f52a\U0001fa78 again and again", "critical"),
    ("emoji_blade_blood_makeup", "\U0001f52a\U0001fa78 halloween makeup tutorial", "clear"),
    ("emoji_blade_blood_cooking", "cooking dinner, sliced my thumb \U0001f52a\U0001fa78 ouch", "clear"),
    ("emoji_cooking_farewell", "cooking one last dinner tonight \U0001f52a goodbye", "critical"),
    ("emoji_rope_its_time", "\U0001faa2\U0001fa9c it's time", "critical"),
    ("oblique_farewell", "This is my last entry, thank you for everything, take care of my cat.", "critical"),
    ("everyday", "Made soup and watched a film with my brother.", "clear"),
    ("esoteric", "Drew the Death card, which is about change, and Saturn is squaring my sun.", "clear"),
]


@pytest.mark.parametrize("family, text, expected", FAMILY_CASES, ids=[case[0] for case in FAMILY_CASES])
def test_family_band(family, text, expected):
    assert band(text) == expected


def test_span_cyrillic_original():
    text = "Today I want to k\u0456ll mys\u0435lf."
    assert any(span.endswith("k\u0456ll mys\u0435lf") for span in signal_texts(text))


def test_span_zero_width_original():
    text = "I want to k\u200bill my\u200bself now"
    spans = signal_texts(text)
    assert any(span.endswith("my\u200bself") for span in spans)


def test_span_after_expansion():
    # "ß" folds to two characters and an emoji is one code point, but spans stay on the original.
    text = "Stra\u00dfe \U0001f600 I want to die."
    assert "want to die" in signal_texts(text)


def test_span_fullwidth_original():
    text = "\uff49 \uff57\uff41\uff4e\uff54 \uff54\uff4f \uff44\uff49\uff45"
    assert signal_texts(text) == ["\uff57\uff41\uff4e\uff54 \uff54\uff4f \uff44\uff49\uff45"]


def test_signal_rule_has_no_text():
    for signal in assess("I want to kill myself tonight").signals:
        assert " " not in signal.rule


def test_signal_fields_valid():
    for signal in assess("I bought a rope and I want to die. Drinking every night.").signals:
        assert signal.category in scorer.CATEGORIES
        assert signal.severity in scorer.SEVERITIES
        assert 0 <= signal.start < signal.end


def test_negated_text_has_no_signal():
    assert assess("I would never kill myself.").signals == ()


@pytest.mark.parametrize("score, name", [
    (0, "critical"), (29, "critical"), (30, "caution"), (45, "caution"),
    (46, "watch"), (70, "watch"), (71, "clear"), (100, "clear"),
])
def test_band_boundaries(score, name):
    assert scorer._band_for(score).name == name


def test_bands_cover_range():
    assert scorer.BANDS[0].low == 0
    assert scorer.BANDS[-1].high == 100
    for lower, upper in zip(scorer.BANDS, scorer.BANDS[1:]):
        assert upper.low == lower.high + 1


def test_bands_table():
    table = [(b.name, b.mode, b.low, b.high) for b in scorer.BANDS]
    assert table == [("critical", "halted", 0, 29), ("caution", "throttled", 30, 45),
                     ("watch", "grounded", 46, 70), ("clear", "open", 71, 100)]


def test_assessment_matches_band():
    result = assess("I feel hopeless and I can't stop crying.")
    matching = scorer._band_for(result.score)
    assert result.band == matching.name
    assert result.mode == matching.mode
    assert result.action == matching.action
    assert result.score_range == f"{matching.low}-{matching.high}"


def test_clear_label():
    assert assess("Went for a walk by the river.").label == "no elevated risk"


def test_critical_label():
    assert assess("I'm going to kill myself tonight.").label == "acute self-harm risk"


def test_dual_diagnosis_label():
    assert assess("Drunk again every night and I feel so hopeless.").label == "dual diagnosis risk"


def test_reality_testing_label():
    assert assess("The moon sends me instructions every night.").label == "reality-testing concern"


def test_distress_label():
    assert assess("I feel so hopeless and empty.").label == "elevated distress"


def test_spanish_not_supported():
    result = assess("Hoy me siento muy feliz y tranquila con mi familia.")
    assert result.language == "es"
    assert result.language_supported is False


@pytest.mark.parametrize("text", [
    "Hoy me siento muy feliz y tranquila con mi familia.",
    "Heute war ein wunderbarer Tag mit meinen Freunden.",
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002",
    "\u0421\u0435\u0433\u043e\u0434\u043d\u044f \u0445\u043e\u0440\u043e\u0448\u0438\u0439 \u0434\u0435\u043d\u044c.",
    "\U0001f31e\u2728",
])
def test_unsupported_never_clear(text):
    result = assess(text)
    assert result.language_supported is False
    assert result.score <= scorer.UNSUPPORTED_LANGUAGE_MAX_SCORE
    assert result.band != "clear"


def test_unsupported_emoji_cues_count():
    assert band("Adi\u00f3s a todos \U0001faa6\U0001f52b") == "critical"


def test_unsupported_988_counts():
    assert band("Necesito llamar al 988 esta noche, no estoy bien.") == "caution"


def test_english_supported():
    result = assess("I had a calm day and read a book.")
    assert result.language == "en"
    assert result.language_supported is True


def test_locale_hint_short_text():
    assert assess("zzz", locale="es-MX").language == "es"


def test_locale_does_not_change_score():
    text = "I want to die."
    assert assess(text, "en-US").score == assess(text, "en-GB").score


def test_empty_text_rejected():
    with pytest.raises(ValueError):
        assess("")


def test_too_long_rejected():
    with pytest.raises(ValueError):
        assess("a" * (scorer.MAX_TEXT_LENGTH + 1))


def test_max_length_accepted():
    assert assess("a" * scorer.MAX_TEXT_LENGTH).band == "clear"


def test_non_string_rejected():
    with pytest.raises(TypeError):
        assess(None)


ADVERSARIAL = [
    "a" * 20_000,
    "kill myself " * 1_666,
    "i don't " * 2_500,
    "want to " * 2_500,
    "'" + "a'" * 9_999,
    '"' * 20_000,
    "k1" * 10_000,
    "\u200b" * 20_000,
    "\U0001f52b" * 20_000,
    ("the planets are sending " * 900)[:20_000],
    "1" * 19_999 + "a",
    ("i " * 10_000),
    ("aaaa " * 4_000),
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_input_fast(text):
    start = time.perf_counter()
    assess(text)
    # A bound for catastrophic backtracking, which on 20,000 characters takes
    # minutes or more. A linear scan takes well under a second, but a shared
    # machine under load once stretched one to 1.2 s, so the bound is 10 s.
    assert time.perf_counter() - start < 10.0


def test_many_signals_bounded():
    result = assess("I want to die. " * 1_000)
    assert len(result.signals) <= 64


def _load_eval_tool():
    spec = importlib.util.spec_from_file_location("eval_seda", ROOT / "tools" / "eval_seda.py")
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up by name while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_eval_set_size():
    examples = _load_eval_tool().load_examples()
    bands = [example.band for example in examples]
    assert len(examples) >= 360
    assert bands.count("critical") >= 60
    assert bands.count("caution") >= 50
    assert bands.count("watch") >= 50
    assert bands.count("clear") >= 120
    assert sum(1 for example in examples if example.split == "holdout") >= 100


def test_cv_report_matches_training_files():
    tool = _load_eval_tool()
    examples = tool.load_examples()
    results, problems = tool.cross_validated(examples)
    assert problems == []
    assert len(results["cv hybrid"].pairs) == sum(1 for e in examples if e.split not in tool.BLIND_SPLITS)


def test_anchors_cover_every_match():
    # The scorer scans only the sentences that contain an anchor of a rule, so a rule
    # whose anchors miss a wording it matches would silently lose that match.
    from services.seda import scorer_rules, scorer_text

    examples = [e for e in _load_eval_tool().load_examples() if e.split in ("dev", "holdout")]
    texts = [e.text for e in examples] + [case[1] for case in FAMILY_CASES]
    for text in texts:
        folded = scorer_text.fold(text).text
        windows = scorer._ANCHORS.windows(scorer._Context(folded))
        for index, rule in enumerate(scorer_rules.RULES):
            if not rule.anchors:
                continue
            everywhere = {m.span() for m in rule.pattern.finditer(folded)}
            scanned = {m.span() for low, high in windows.get(index, ()) for m in rule.pattern.finditer(folded, low, high)}
            assert everywhere <= scanned, (rule.id, text)


# Hard cases whose band the encoder changed. They stay strict expected failures, so a
# later model that scores one as written is noticed.
ENCODER_CHANGES = {
    "alignment_alone": "caution: it reads planets lining up for the writer as a delusion of reference",
}


def _cases(cases):
    """Wrap (name, text, expected) cases as parameters, marking ENCODER_CHANGES as strict expected failures."""
    params = []
    for case in cases:
        marks = []
        if case[0] in ENCODER_CHANGES:
            marks = [pytest.mark.xfail(strict=True, reason=f"the encoder scores this {ENCODER_CHANGES[case[0]]}")]
        params.append(pytest.param(*case, id=case[0], marks=marks))
    return params


# Families that combine two weak signals into a critical one, with the guards that keep
# ordinary texts out. The texts were written for these tests.
COMBINATION_CASES = [
    ("wish_knows_how", "I keep wishing I could sleep and never wake up, and now I know how.", "critical"),
    ("ideation_knows_how", "I don't want to live anymore. I've found out how.", "critical"),
    ("knows_how_alone", "It took a whole afternoon, but I finally know how.", "clear"),
    ("knows_how_negated", "I wish I could disappear, but I don't know how to make that happen.", "caution"),
    ("knows_how_third_person", "My cousin finally knows how to make that happen.", "clear"),
    ("know_where_everyday", "I know where to go when the cafe is full.", "clear"),
    ("tell_family_farewell", "This is goodbye. Tell my mum it was never her fault.", "critical"),
    ("tell_family_no_farewell", "Tell my mum I'll be late for dinner.", "clear"),
    ("dose_question_named", "How many of my sleeping tablets would it take to not wake up?", "critical"),
    ("dose_question_benign", "How much ibuprofen would it take to help a sprained ankle?", "clear"),
    ("pet_for_good", "I gave my cat to my neighbour for good. She doesn't know why.", "critical"),
    ("pet_cover_story", "Left my dog at my brother's place. Told him it's temporary. It isn't.", "critical"),
    ("pet_ordinary_reason", "We rehomed our rabbit permanently because my daughter is allergic.", "clear"),
    ("pet_short_stay", "My sister will take care of my dog for a week while I travel.", "clear"),
    ("farewell_final", "Goodbye everyone. I'm not coming back.", "critical"),
    ("farewell_platform", "Bye everyone, deleting this app for good.", "watch"),
    ("alcohol_and_pills", "Drank a whole bottle of vodka and took some of my mom's pills, I feel weird.", "critical"),
    ("alcohol_alone", "Drank a whole bottle of wine at the party last night, feel rough today.", "watch"),
    ("alcohol_no_pills", "I didn't take any pills, just drank a bottle of wine.", "watch"),
    ("dual_alignment", "Took speed again all night and the planets are lining up around me.", "caution"),
    ("alignment_alone", "The planets are lining up just for me this week, lucky me.", "clear"),
]


@pytest.mark.parametrize("name, text, expected", _cases(COMBINATION_CASES))
def test_combination_band(name, text, expected):
    assert band(text) == expected


# Safety net: broad first-person cues that set a maximum score. The texts were written
# for these tests.
NET_CASES = [
    ("done_alone", "I'm just so done.", "watch"),
    ("self_harm_again", "cutting again. nobody knows", "watch"),
    ("lighter_without_me", "Everyone will be lighter without me.", "caution"),
    ("tracks_and_thinking", "I stare at the tracks on the way home, thinking how quick it would be.", "critical"),
    ("slang_with_time", "game end tonight fr", "critical"),
    ("day_and_letters", "Sunday is the day. I've written the letters.", "critical"),
    ("sea_after_funeral", "Gonna walk into the sea after the funeral.", "critical"),
    ("only_lookalikes", "\u0455\u0435\u0445 \u0430nd \u0455u\u0456\u0441\u0456d\u0435", "caution"),
    ("script_letters", "\U0001d4f2 \U0001d500\U0001d4ea\U0001d4f7\U0001d4fd \U0001d4fd\U0001d4f8 \U0001d4ed\U0001d4f2\U0001d4ee", "critical"),
    ("soft_hyphen", "i want to d\u00adie", "critical"),
]

NET_CLEAR_CASES = [
    ("gaming_boss", "I died like six times to the last boss lol."),
    ("garden_tomatoes", "My tomatoes are dying, I keep killing my tomatoes."),
    ("true_crime", "Watched a true crime doc about a man who killed his wife."),
    ("cake", "This cake is to die for."),
    ("dead_tired", "Dead tired after the double shift."),
    ("history", "Napoleon died in exile on Saint Helena."),
    ("coffee", "I'd die for a coffee right now."),
    ("coworkers_goodbye", "Saying goodbye to my coworkers tomorrow, last day at the office."),
    ("pet_grief", "Our old cat passed away this morning. We buried her under the apple tree."),
    ("rather_die", "Honestly I'd rather die than sing karaoke at the party."),
    ("train_trip", "Taking the train to the coast tomorrow with my sister."),
]


@pytest.mark.parametrize("name, text, expected", _cases(NET_CASES))
def test_net_band(name, text, expected):
    assert band(text) == expected


@pytest.mark.parametrize("name, text", NET_CLEAR_CASES, ids=[case[0] for case in NET_CLEAR_CASES])
def test_net_leaves_clear(name, text):
    assert band(text) == "clear"


def test_net_signals_name_rule():
    rules_found = {s.rule for s in assess("Sunday is the day. I've written the letters.").signals}
    assert "net.timing" in rules_found


FOREIGN_CASES = [
    ("german_short", "Ich will sterben", "de", "critical"),
    ("portuguese_short", "quero me matar amanh\u00e3", "pt", "critical"),
    ("spanish_end_all", "Quiero acabar con todo", "es", "caution"),
    ("french_negated", "Je ne veux pas mourir", "fr", "watch"),
    ("spanish_tomorrow", "Ma\u00f1ana me despido de todos", "es", "watch"),
]


@pytest.mark.parametrize("name, text, language, expected", FOREIGN_CASES, ids=[case[0] for case in FOREIGN_CASES])
def test_foreign_language(name, text, language, expected):
    assert assess(text).language == language


@pytest.mark.parametrize("name, text, language, expected", FOREIGN_CASES, ids=[case[0] for case in FOREIGN_CASES])
def test_foreign_band(name, text, language, expected):
    assert band(text) == expected


CHAT_ENGLISH_CASES = [
    ("brb gtg ttyl idk", ""),
    ("Halloween party costume ideas so excited!", ""),
    ("Halloween costume shopping with the kids", "en-US"),
    ("lowkey obsessed w this playlist rn", "en-GB"),
]


@pytest.mark.parametrize("text, locale", CHAT_ENGLISH_CASES)
def test_english_chat_is_english(text, locale):
    assessment = assess(text, locale)
    assert (assessment.language, assessment.language_supported) == ("en", True)


@pytest.mark.parametrize("text, locale, language", [
    # An English locale does not make a text English when no English word is in it.
    ("Nataka kufa leo usiku", "en-US", "und"),
    ("quero me matar amanh\u00e3", "en-US", "pt"),
    # Russian in letters that all have Latin twins is not disguised English; disguised English is.
    ("\u041e\u043d \u043d\u0430 \u043c\u043e\u0441\u0442\u0443.", "en-US", "und"),
    ("\u0456 w\u0430nt t\u043e d\u0456\u0435", "en-US", "en"),
])
def test_english_locale_keeps_other_languages(text, locale, language):
    assert assess(text, locale).language == language


@pytest.mark.parametrize(("text", "folded_words"), [
    ("I am going to k i l l m y s e l f tonight", "i am going to kill myself tonight"),
    ("i want to k i l l myself", "i want to kill myself"),
    ("I want to d i e", "i want to die"),
    ("s u i c i d e", "suicide"),
    # Letters that do not split into the crisis words are joined into one word.
    ("J R R Tolkien wrote it", "jrr tolkien wrote it"),
])
def test_spaced_letters_are_read_as_words(text, folded_words):
    assert fold(text).text == folded_words


@pytest.mark.parametrize("text", ["I am going to k i l l m y s e l f tonight", "i want to k i l l myself", "I want to d i e"])
def test_spaced_out_crisis_is_critical(text):
    assert scorer.assess(text).band == "critical"


@pytest.mark.parametrize(("text", "folded_words"), [
    ("iwanttodie", "i want to die"),
    ("IWannaDie so bad", "i wanna die so bad"),
    ("im going 2 kill myslef 2nite", "im going to kill myself tonight"),
    # A run that does not split wholly into the words, or splits without a crisis word, stays.
    ("deadline lifetime wantto itsallgood", "deadline lifetime wantto itsallgood"),
    ("2 of us, 2nd place, 1 2 3", "2 of us, 2nd place, 1 2 3"),
])
def test_glued_and_misspelt_words_are_respelt(text, folded_words):
    assert fold(text).text == folded_words


def test_respelt_span_maps_to_original():
    # The rule's span starts at "want", which is inside the glued word.
    assert "wanttodie" in signal_texts("ok. iwanttodie")


def test_retraction_taken_back_is_not_clear():
    text = "ngl i'm gonna unalive myself after finals lol jk... unless?"

    assert band(text) in ("critical", "caution")
    # The rules alone: the retraction clears the plain joke and not the one taken back.
    assert scorer.rule_band(text) in ("critical", "caution")
    assert scorer.rule_band("ngl i'm gonna unalive myself after finals lol jk") == "clear"


def test_spaced_letters_keep_their_span():
    text = "I want to k i l l myself"
    signal = next(s for s in scorer.assess(text).signals if s.category == "active_ideation")

    assert text[signal.start:signal.end].endswith("k i l l myself")


# Ordinary errands that share words with preparatory acts or ideation; each was a false
# alarm in an attack on the service.
ERRANDS = [
    ("dye", "I want to die my hair blue before the concert next week, it will look amazing with my outfit."),
    ("landlord_note", "Wrote a note to my landlord about the boiler and left it under his door."),
    ("pharmacy", "Dropped my old pills off at the pharmacy for safe disposal today."),
]


@pytest.mark.parametrize("name,text", ERRANDS, ids=[name for name, _ in ERRANDS])
def test_errand_not_critical(name, text):
    assert band(text) == "clear"


def test_dye_guard_keeps_wish():
    assert band("I want to die. My hair is falling out and I can't cope.") == "critical"


def test_note_guard_keeps_farewell():
    assert band("I wrote a note to my mum and left it on the table. Tonight it ends.") == "critical"


# Crisis slang aimed at something trivial: hyperbole, not ideation.
SLANG_HYPERBOLE = [
    ("homework", "kms this chem homework is 40 questions"),
    ("pizza", "we are about to unalive this pizza, 2 larges between 3 people, pray for us"),
    ("conditional", "honestly gonna kms if this essay extension gets rejected, the module leader is a menace"),
    ("game_deaths", "bro i unalived myself 6 times on the same jump. this game is unaliving me at this point."),
    ("chocolate", "Overdosed on Christmas chocolate again. Three selection boxes, zero regrets."),
]


@pytest.mark.parametrize("name,text", SLANG_HYPERBOLE, ids=[name for name, _ in SLANG_HYPERBOLE])
def test_slang_hyperbole_not_critical(name, text):
    assert band(text) != "critical"


def test_slang_with_time_stays_critical():
    assert band("kms. tonight.") == "critical"


def test_conditional_slang_about_a_person_stays_critical():
    assert band("i'll kms if she leaves me tonight") == "critical"


# Each risky phrase sits beside an everyday twin in nearly the same words.
TWIN_CASES = [
    # Oblique wording: a future the writer does not expect, a burden lifted by their
    # death, hoping for an accident.
    ("My family will get the insurance money and finally be free of me.", "critical"),
    ("Renewed my life insurance policy today, boring adult stuff.", "clear"),
    ("I don't see myself being here when spring comes.", "critical"),
    ("I don't see myself being here in five years, this company is going nowhere.", "clear"),
    ("I kind of hope the plane goes down.", "caution"),
    ("Scared of flying, I keep imagining the plane goes down.", "clear"),
    ("I won't need a winter coat this year.", "watch"),
    ("I won't need a winter coat this year, we're moving to Queensland!", "clear"),
    # Plans phrased as a trip or a routine.
    ("After work I'm driving to the top of the parking garage on 5th and jumping.", "critical"),
    ("Driving out to the cliffs this weekend and jumping into the sea with friends, so excited", "clear"),
    ("I'll be stepping in front of the 7:15 train tomorrow.", "critical"),
    ("Got the 7:15 train to work, stepped in front of a puddle lol", "clear"),
    ("I'm going to stop eating and drinking until it's over.", "critical"),
    ("going to stop eating sugar until the wedding lol", "clear"),
    ("My therapist asked if I'd ever thought about suicide and I said no, honestly.", "clear"),
    ("\U0001f52a\U0001f345\U0001f9c5 making salsa tonight", "clear"),
    # "kys" is an insult aimed at someone else, unless the writer is its subject.
    ("might just kys", "critical"),
    ("i'm gonna kys fr", "critical"),
    ("ok. wanna kys tbh", "critical"),
    ("you should kys lol", "clear"),
    ("lmao kys noob", "clear"),
    ("he told me to kys", "clear"),
    ("might just kys if this meeting runs over", "clear"),
    # A will made for a new baby, and a last entry of a year.
    ("Wrote my will and got life insurance now that the baby is here. Adulting!", "clear"),
    ("Wrote my will and got life insurance. The kids will be better off without me.", "critical"),
    ("Last entry of the year! Thanks for reading along. See you in 2027!", "clear"),
    ("This is my last entry. Thank you for everything.", "critical"),
    # A loaded gun is a prepared means, unless the sentence is about hunting, a range or home defence.
    ("My gun is loaded and on the bed next to me.", "critical"),
    ("gun's loaded. sorry.", "critical"),
    ("Loaded the shotgun for duck season, heading out at dawn with dad.", "clear"),
    ("Keep the pistol loaded for home defense since the break-in, locked in the safe.", "clear"),
    # The writer's own death on a near date, and the same words as hyperbole.
    ("I'm going to die tonight.", "critical"),
    ("We're going to die laughing at the show tonight.", "clear"),
    # Goodbyes meant as the last, and the same goodbyes before a trip or a move.
    ("bye forever", "critical"),
    ("wont see u guys again", "critical"),
    ("this is goodbye", "critical"),
    ("wont see u guys again till christmas, enjoy the trip!", "clear"),
    ("this is goodbye Tokyo, flight home tomorrow!", "clear"),
    # A past attempt the writer has left behind, and one they mean to repeat.
    ("Ten years ago I tried to kill myself. Today I'm a nurse and I love my life.", "clear"),
    ("Ten years ago I tried to kill myself. Tonight I will finish it.", "critical"),
    # Rebirth in shadow work, and keys left with a neighbour for a trip or for good.
    ("My shadow work journal: letting the old version of me die so a new one can grow.", "clear"),
    ("Going on a long journey tonight: night train to Vienna. Left the keys with my neighbor so she can feed the cat.",
     "clear"),
    ("Going on a long journey tonight. Left the keys with my neighbor. Won't be back, ever.", "critical"),
    ("I'm giving away all my baby clothes now that the kids are older.", "clear"),
    ("I don't see a future for myself.", "watch"),
    ("I don't see a future for myself in this company, time to job hunt.", "clear"),
    # A date for the act, a line of a note, a note to be read after.
    ("My mom always said I'd be better off dead, and I finally agree. I'm doing it this week.", "critical"),
    ("Tell my mom it wasn't her fault.", "critical"),
    ("tell mom it wasnt ur fault", "critical"),
    ("tell Mom it wasn`t her fault", "critical"),
    ("make sure Lily knows it wasn't because of her", "critical"),
    # A gun made ready without the word "loaded", and a gun that is a tool.
    ("I put one bullet in the chamber and pointed it at my head", "critical"),
    ("I loaded my dad's revolver and I'm sitting with it", "critical"),
    ("loaded. safety off. sorry everyone", "critical"),
    ("the staple gun is loaded and I'm holding it under the shelf", "clear"),
    # Hyperbole aimed at homework or a laugh.
    ("this calc homework is killing me, kms", "clear"),
    ("everything is killing me, kms", "critical"),
    ("I will literally kill myself laughing if he wears that hat again", "clear"),
    ("By the time anyone reads this I'll be at peace.", "critical"),
    # Pills mixed with drink and not caring what happens, and an old feeling that comes back.
    ("I mixed my Xanax with half a bottle of vodka again last night and I don't really care what happens.", "caution"),
    ("I don't really care what happens with the football this season.", "clear"),
    ("At 19 I wanted to die. Therapy helped me, but the thoughts are back this winter and I wish I could disappear.",
     "caution"),
    ("At 19 I wanted to die. Therapy helped me and I'm doing much better now.", "clear"),
]


def test_repeated_sentence_adds_no_risk():
    once = "The market was busy today and I bought apples."

    assert band(once) == "clear"
    assert band(" ".join([once] * 4)) == "clear"
    assert band(" ".join(["I love you."] * 4)) == "clear"


def test_repeated_crisis_sentence_stays_critical():
    assert band(" ".join(["I want to die."] * 4)) == "critical"


@pytest.mark.parametrize("text, expected", [
    ("I love you. I love you. i love  you.", "I love you. "),
    ("I ran 3.5 km. Then 3.5 km. Then 3.5 km.", "I ran 3.5 km. Then 3.5 km. "),
    ("Same. same!", "Same. "),
    ("!!! !!! ok", "!!! !!! ok"),
])
def test_without_repeated_sentences(text, expected):
    assert without_repeated_sentences(text) == expected


@pytest.mark.parametrize("text, expected", TWIN_CASES)
def test_twin_phrase_band(text, expected):
    assert band(text) == expected


# Punctuation and line breaks inside a phrase, which hid it from the rules.
PAUSED_PHRASES = [
    "I want to killmyself tonight", "I want to kill\u00admyself tonight", "I want to kill\u2060myself tonight",
    "kill, myself", "kill / myself", "kill_myself",
    "I want to... die.", "i want to...die", "I want to\u2026die", "I want to: die", "I want to - die",
    "I want to \u2014 die", "I want to, die", "I want to (die)", 'I want to "die"', "I want to kill... myself",
    "I'm going to\u2014end it. tonight.", "i want to\ndie", "i want to\nkill\nmyself", "I\nwant\nto\ndie",
]


@pytest.mark.parametrize("text", PAUSED_PHRASES)
def test_paused_phrase_is_critical(text):
    assert band(text) == "critical"


@pytest.mark.parametrize(("text", "folded"), [
    ("I want to... die.", "i want to die."),
    # A capital after the pause starts a sentence, so the sentences stay apart.
    ("Not really... I want to sleep", "not really... i want to sleep"),
    ("eggs\nMilk", "eggs\nmilk"),
    ("Tired\u2014I'm done", "tired i'm done"),
    ("e-mail", "email"),
    # The joined word then splits back into the crisis words.
    ("self-harm", "self harm"),
])
def test_pauses_fold_to_spaces(text, folded):
    assert fold(text).text == folded


def test_foreign_locale_sets_language():
    result = assess("me muero de risa jajaja", "es-MX")

    assert result.language == "es"
    assert result.band == "watch"


def test_no_sleep_is_not_eating():
    rules_found = {s.rule for s in assess("Haven't slept in three days, my thoughts are racing.").signals}

    assert "distress.not_eating" not in rules_found
    assert "psychosis.no_sleep" in rules_found


@pytest.mark.parametrize(("text", "folded_words"), [
    ("\u0399'\u217f \u0261\u03bf\u0456\u0578\u0261 t\u03bf \u217e\u0456\u0435 t\u03bf\u0578\u0456\u0261\u04bbt",
     "i'm going to die tonight"),
    ("I \u13b3\u13aaNT \u13a2O \u13a0IE", "i want to die"),
    ("i want to k\u0268ll my\u00f8wn", "i want to kill myown"),
    ("\U0001f1f0\U0001f1ee\U0001f1f1\U0001f1f1", "kill"),
])
def test_more_lookalikes_fold_to_latin(text, folded_words):
    assert fold(text).text == folded_words


@pytest.mark.parametrize(("text", "folded_words"), [
    ("\u026a \u1d21\u026a\u029f\u029f \u1d0b\u026a\u029f\u029f \u1d0d\u028f\ua731\u1d07\u029f\ua730", "i will kill myself"),
    ("\ua7af\u1d1c\u026a\u1d1b", "quit"),
])
def test_small_capitals_fold_to_latin(text, folded_words):
    assert fold(text).text == folded_words


# A command hallucination orders an act against the writer. The same verbs with an
# everyday object are advice, not a symptom. The texts were written for these tests.
@pytest.mark.parametrize(("text", "expected"), [
    ("The voice says I have to end it tonight to save everyone.", "critical"),
    ("God told me I must give my life tonight.", "critical"),
    ("The radio keeps ordering me to step in front of a train.", "critical"),
    ("He whispers that I should hurt myself and I think I will.", "critical"),
    ("My coach told me to cut carbs before the race.", "clear"),
    ("My boss told me to end the meeting early.", "clear"),
    ("Mum told me to jump in the shower before dinner.", "clear"),
    ("My therapist says I should end it with him, he's toxic.", "clear"),
])
def test_command_hallucination_needs_self_harm(text, expected):
    assert band(text) == expected


# Everyday texts that share a crisis rule's words, each once raised to critical. The
# texts were written for these tests.
@pytest.mark.parametrize("text", [
    "Tonight is the night I finally finish the scarf.",
    pytest.param("I took all my pills this morning like the doctor said.",
                 marks=pytest.mark.xfail(strict=True, reason="known false alarm of the encoder: scores this short everyday text critical")),
    "I took all my antibiotics, the course is done.",
    "This is my last entry in this notebook, starting a new one tomorrow.",
    "My plan is to jump into the lake at the summer party.",
    "I won't be around much next week, exams.",
    "Wrote letters to everyone for the wedding invites.",
    "It ends tonight, the season finale of my favourite show!",
])
def test_everyday_text_is_not_critical(text):
    assert band(text) != "critical"


@pytest.mark.parametrize("text", [
    "Tonight is the night.",
    "Tomorrow is the day. I've written the letters.",
    "I took all my pills last night and I feel sick and dizzy.",
    "This is my last entry. Goodbye.",
    "I won't be around much longer.",
])
def test_guarded_rules_still_catch_crisis(text):
    assert band(text) == "critical"


# Short chat lines that a rule once raised. The rules now pass them, but the encoder
# still scores them critical (see the limits in docs/seda-method.md).
ENCODER_CHAT_FALSE_ALARMS = [
    "ok im off, bye everyone xx",
    "i have everything ready for tomorrow's trip",
    "tonight is the night, wish me luck",
]


@pytest.mark.parametrize("text", ENCODER_CHAT_FALSE_ALARMS)
def test_chat_line_rules_band_clear(text):
    assert scorer.rule_band(text) == "clear"
    assert assess(text, use_encoder=False).band == "clear"


@pytest.mark.parametrize("text", [
    pytest.param(text, marks=pytest.mark.xfail(strict=True, reason="known false alarm of the encoder on a short chat line"))
    for text in ENCODER_CHAT_FALSE_ALARMS
])
def test_chat_line_band_clear(text):
    assert band(text) == "clear"


@pytest.mark.parametrize("text", [
    "what's the point of anything. i just want everything to stop",
    "Headshot! gg, I'm done with this game for tonight",
])
def test_model_names_no_substance_without_one(text):
    result = assess(text)

    assert result.label != "substance use"
    assert all(signal.category != "substance_use" for signal in result.signals)


def test_spanish_laughter_is_not_english():
    result = assess("me muero de risa jajaja")

    assert result.language == "es"
    assert result.band == "watch"


# Results whose band once disagreed with their own label or signals.
CONSISTENCY_TEXTS = [
    "i.want.to.end.it.tonight",
    "je veux mourir ce soir",
    "quiero morir, ya tengo las pastillas",
    "I don't want to die, I just want this week to be over",
    "i wnt to die",
    "ok im off, bye everyone xx",
    *[case[1] for case in FAMILY_CASES],
]


@pytest.mark.parametrize("text", CONSISTENCY_TEXTS)
def test_band_agrees_with_label_and_signals(text):
    result = assess(text)
    severities = {signal.severity for signal in result.signals}

    if result.band == "critical":
        # Several moderate cues may add up to critical; low ones alone never explain it.
        assert severities - {"low"}
    if result.band == "watch":
        assert result.label not in ("passive death wish", "self-harm ideation")
