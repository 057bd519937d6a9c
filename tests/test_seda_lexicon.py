"""Tests of the crisis lexicon of other languages: kinds, combinations, negation and figures of speech.

Every text was written for these tests. Each expected band follows the labelling rules
in eval/seda/LABELING.md: active ideation is critical, a wish to be dead alone is
caution, and text in another language without risk is watch.
"""

import pytest

from services.seda import crisis_lexicon
from services.seda.scorer import assess
from services.seda.scorer_text import fold


def band(text: str) -> str:
    return assess(text).band


def lexicon_rules(text: str) -> list[str]:
    return [s.rule for s in assess(text).signals if s.rule.startswith("net.lexicon.")]


ACTIVE = [
    ("es", "Estoy harta. Quiero matarme."),
    ("pt", "Eu não aguento mais, quero morrer."),
    ("fr", "Je veux mourir, je n'en peux plus."),
    ("de", "Ich möchte nicht mehr leben."),
    ("it", "Sono stanca di tutto e penso di farla finita."),
    ("nl", "Ik wil dood, het is te veel."),
    ("pl", "Chcę umrzeć, nie mam już siły."),
    ("ru", "Я больше не хочу жить."),
    ("uk", "Я хочу померти, все марно."),
    ("tr", "Ölmek istiyorum, dayanamıyorum."),
    ("el", "Θέλω να πεθάνω, δεν αντέχω."),
    ("ar", "لا أريد أن أعيش بعد الآن."),
    ("he", "אני רוצה למות, נמאס לי."),
    ("hi", "मैं मरना चाहता हूँ।"),
    ("hi-latn", "Sach mein ab jeena nahi chahti."),
    ("id", "Aku ingin mati saja."),
    ("tl", "Gusto ko nang mamatay."),
    ("sw", "Nataka kufa, nimechoka."),
    ("vi", "Tôi không muốn sống nữa."),
    ("zh", "我真的不想活了。"),
    ("ja", "もう死にたい。"),
    ("ko", "진짜 죽고 싶어."),
    ("th", "ฉันอยากตาย"),
    # The verb last, after a time or a place.
    ("de-gap", "Ich werde mich heute Nacht umbringen."),
    ("de-gap-place", "Ich werde mich am Wochenende im Wald erhängen."),
    ("nl-gap", "Ik ga mezelf vanavond van kant maken."),
]


@pytest.mark.parametrize("language,text", ACTIVE, ids=[language for language, _ in ACTIVE])
def test_active_phrase_critical(language, text):
    assert band(text) == "critical"


NEGATED = [
    ("es", "No quiero morir, solo quiero dormir una semana."),
    ("fr", "Je n'ai pas envie de mourir, juste de partir en vacances."),
    ("de", "Ich will nicht sterben, ich bin nur müde."),
    ("ru", "Я не хочу умереть, просто устала."),
    ("zh", "我不想死，我只是很累。"),
    ("de-gap", "Ich werde mich heute Nacht nicht umbringen, keine Sorge."),
    ("nl-gap", "Ik ga mezelf vanavond niet van kant maken."),
    ("ja", "死にたくない、ただ休みたい。"),
    ("ko", "죽고 싶지 않아, 그냥 쉬고 싶어."),
    ("th", "ฉันไม่อยากตาย แค่เหนื่อย"),
]


@pytest.mark.parametrize("language,text", NEGATED, ids=[language for language, _ in NEGATED])
def test_negated_phrase_not_critical(language, text):
    assert band(text) == "watch"
    assert lexicon_rules(text) == []


FIGURATIVE = [
    ("feeling", "Me quiero morir de la vergüenza, le mandé el audio a mi jefe."),
    ("laughter", "El jefe me gritó otra vez, me quiero matar jajaja. Mañana será otro día."),
    ("object", "Hoy voy a acabar con todo el trabajo pendiente."),
    ("object_pt", "Vou acabar com tudo isso hoje e arrumar a casa inteira."),
    ("where", "Ya no quiero vivir en esta casa, el casero no arregla nada."),
]


@pytest.mark.parametrize("name,text", FIGURATIVE, ids=[name for name, _ in FIGURATIVE])
def test_figurative_phrase_not_critical(name, text):
    assert band(text) == "watch"


COMBINATIONS = [
    ("wish_and_means", "Ojalá pudiera dormirme y no despertar. Tengo las pastillas guardadas.", "critical"),
    ("gone_and_means", "Скоро меня не будет. Таблетки уже собраны.", "critical"),
    ("gone_and_timing", "Скоро меня не будет. Сегодня ночью.", "caution"),
    ("farewell_and_final", "Ik heb afscheidsbrieven geschreven. Alles is klaar.", "critical"),
    ("farewell_and_means", "Ich habe den Abschiedsbrief geschrieben und die Tabletten gesammelt.", "critical"),
    ("intent_and_means", "Já separei os comprimidos. Vou fazer isso quando todos dormirem.", "caution"),
    ("deferral", "Hoy no me voy a suicidar, lo haré el domingo.", "critical"),
    ("passive_pt", "Já não tenho vontade de viver.", "caution"),
    ("passive_and_means_ko", "나 오늘 밤에 죽을 거야. 약 다 모아놨어.", "critical"),
    ("topic_and_final", "Ciągle myślę o samobójstwie. Zdecydowałam.", "critical"),
    ("farewell_and_timing", "Escribí una carta de despedida para mi madre. Mañana se la doy.", "caution"),
    ("topic_and_timing", "Ein Film über Selbstmord läuft heute Abend.", "caution"),
    ("wish_alone", "A veces quisiera dormirme y no despertar nunca.", "caution"),
    ("wish_retracted", "Ojalá no despertara mañana. No voy a hacer nada, pero estoy cansada de vivir.", "caution"),
    ("means_alone", "Compré pastillas para el dolor de cabeza y mañana voy al médico.", "watch"),
    ("timing_alone", "Heute Nacht schlafe ich bei meiner Schwester.", "watch"),
]


@pytest.mark.parametrize("name,text,expected", COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_combination_band(name, text, expected):
    assert band(text) == expected


NOT_THE_WRITER = [
    ("reported_friend", "Мой друг говорит, что хочет покончить с собой, я очень волнуюсь за него."),
    ("friend_zh", "我朋友说他想自杀，我很担心他。"),
    ("mother_idiom", "Mi madre va a matarme cuando vea las notas del colegio."),
    ("years_ago", "Vor zehn Jahren wollte ich mich umbringen. Heute bin ich glücklich verheiratet."),
    ("moving_forever", "Sabko alvida, hamesha ke liye Dubai shift ho raha hoon!"),
    ("leaving_party", "Прощальная вечеринка для коллеги завтра, всё готово!"),
    ("haircut", "Mañana voy a cortarme el pelo, ¡por fin!"),
    ("ja_negated_after", "死にたいとは思わない。ただ今日は疲れただけ。"),
    ("ko_negated_after", "자살하고 싶지 않아. 그냥 좀 지쳤을 뿐이야."),
    # The words of a phrase with a gap in two clauses or two sentences.
    ("gap_two_clauses", "Ich werde mich morgen mit Anna treffen und dann umbringen wir die Zeit mit Karten."),
    ("gap_two_sentences", "Ich werde mich heute. Nacht umbringen ist ein guter Filmtitel."),
]


@pytest.mark.parametrize("name,text", NOT_THE_WRITER, ids=[name for name, _ in NOT_THE_WRITER])
def test_ordinary_text_not_critical(name, text):
    assert band(text) != "critical"


STILL_CRITICAL = [
    ("not_joking_tr", "Şaka değil ölmek istiyorum."),
    ("italian_yes", "Ora sì voglio morire, ho già le pillole."),
    ("serious_after_laugh", "Ik wil dood hahaha nee serieus, vanavond neem ik alle pillen."),
    ("time_after_all", "Voy a acabar con todo esta noche."),
    ("in_this_world", "Не хочу жить в этом мире, сегодня ночью выпью все таблетки."),
]


@pytest.mark.parametrize("name,text", STILL_CRITICAL, ids=[name for name, _ in STILL_CRITICAL])
def test_guard_keeps_crisis(name, text):
    assert band(text) == "critical"


def test_foreign_phrase_inside_english():
    text = "Work was fine, nothing special. Honestly estoy cansada de todo. Ya tengo todo planeado, les dejé cartas a mis hijos."
    assert band(text) == "critical"


def test_english_text_skips_bare_topic():
    # "suicide" is also a French word, and in English text the English rules judge it.
    text = "We watched a documentary about suicide prevention tonight, it was well made."
    assert "net.lexicon.topic" not in lexicon_rules(text)


def test_lexicon_signal_span_covers_phrase():
    text = "Dzisiaj był długi dzień. Chcę się zabić."
    spans = [text[s.start:s.end] for s in assess(text).signals if s.rule == "net.lexicon.active"]
    assert spans == ["Chcę się zabić"]


def test_phrases_fold_without_lookalikes():
    # "умереть" is spelled only with letters that have Latin twins; folding the phrase
    # alone must keep it Cyrillic, as folding a Russian text does.
    matches = crisis_lexicon.LEXICON.find(fold("я хочу умереть").text, limit=8)
    assert [m.kind for m in matches] == ["active"]


def test_find_limits_matches_per_kind():
    text = fold("quiero matarme. " * 50).text
    matches = crisis_lexicon.LEXICON.find(text, limit=8)
    assert sum(1 for m in matches if m.kind == "active") == 8


def test_every_language_has_every_kind_list():
    for language, kinds in crisis_lexicon._LEXICON.items():
        for kind in ("active", "passive", "gone", "farewell", "final", "means", "timing", "negators"):
            assert kind in kinds, f"{language} lacks {kind}"


def test_overlapping_phrases_give_one_signal():
    # "quiero matarme" (Spanish) contains "matarme", which Portuguese "matar-me" folds to.
    assert lexicon_rules("Quiero matarme. Ya no aguanto.") == ["net.lexicon.active"]
