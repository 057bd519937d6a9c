"""Crisis phrases in languages other than English, for the SEDA safety net.

The rules read English only. For text in another language (and for foreign phrases
inside English text) the safety net looks for a short list of first-person phrases
per language, grouped by meaning:

    active    I want to die, kill myself, end my life, think of suicide (critical alone)
    passive   a wish not to wake up or to disappear, a life not worth living
    gone      soon I won't be here any more, nobody will have to worry about me
    topic     the word suicide, which a news item or a film may use too
    intent    "I'm going to do it", which says nothing without a means or a plan
    farewell  farewell letters and belongings given away, but not a plain "goodbye",
              "forgive me" or a pet left with a neighbour, which everyday text is full of
    final     decided, everything is ready, forever, the date is set
    means     pills, a bridge, a rope, a weapon, a train, a roof, jumping
    timing    tonight, tomorrow, this weekend, a weekday
    retract   "I won't do anything", said after a wish to be dead

How the kinds combine into a band is in ``services/seda/scorer.py`` (``_lexicon_floor``).

Phrases are written in their usual spelling and folded with ``scorer_text.fold`` when
this module loads, so they match the folded text whatever its accents or case. They are
folded without turning look-alike letters into Latin ones, because a Russian or Greek
text keeps its own letters when it is folded. A trailing ``*`` on a word matches any
ending, for inflected languages ("zabić*" also matches "zabiję"). A ``…`` between two
words lets up to five other words of the same clause stand there ("ich werde mich …
umbringen" matches "ich werde mich heute Nacht umbringen"), unless one of them is a
negator of the phrase's language or a conjunction that starts another clause. Scripts
written with spaces between words match whole words only.
Chinese, Japanese and Thai match anywhere. Korean matches anywhere too, because its
particles attach to the word.

Each language has its own negators, and only the phrase's own language's count (Italian
"mai" is "never", Vietnamese "mai" is "tomorrow"). The word right before an active,
passive, gone or topic phrase cancels it ("no quiero morir"), unless a word for a joke
stands next to that negator ("şaka değil", not joking). In Chinese and Thai a
negator right before the phrase cancels it ("不想死"). In Japanese and Korean a
negating ending right after it does ("死にたいとは思わない", "죽고 싶지 않아").

Vietnamese loses its tone marks when folded ("tự tử", suicide, folds like "từ từ",
slowly), so its phrases carry a subject or a verb that keeps them apart.

The lists were written for this scorer by the team from general knowledge of each
language. They hold common ways to say these things, not every way: a miss in another
language still scores at most watch (never clear), and the learned model reads other
scripts through its character n-grams.
"""

from __future__ import annotations

import dataclasses
import re

from services.seda.scorer_text import fold

KINDS = ("active", "passive", "gone", "topic", "intent", "farewell", "final", "means", "timing", "retract")

# Languages whose words are not separated by spaces, so their phrases match anywhere.
_UNSPACED = frozenset({"zh", "ja", "th", "ko"})

_LEXICON: dict[str, dict[str, list[str]]] = {
    "es": {
        "active": ["quiero morir*", "me quiero morir", "me voy a matar", "quiero matarme", "me quiero matar",
                   "voy a matarme", "me voy a suicidar", "quiero suicidar*", "pienso en suicidarme",
                   "pienso en el suicidio", "quitarme la vida", "acabar con mi vida", "no quiero vivir",
                   "no quiero seguir viviendo", "ya no quiero estar aquí", "voy a acabar con todo",
                   "me voy a quitar la vida", "me mato", "me quiero suicidar", "me suicido", "voy a suicidarme",
                   "planeando matarme", "me tiro del puente", "me tiro de la azotea", "aventarme del puente",
                   "me aviento del puente", "me voy a aventar del puente", "tomarme todas las pastillas",
                   "quiero dejar de existir", "me quiero ir de este mundo"],
        "passive": ["dormirme y no despertar", "no despertar nunca", "desaparecer para siempre",
                    "estarían mejor sin mí", "estaría mejor muert*", "ojalá no despertara", "acabar con todo",
                    "no vale la pena vivir", "cansad* de vivir", "hacerme daño a mí mism*",
                    "no voy a llegar a mañana"],
        "gone": ["pronto no estaré", "no me van a volver a ver", "nadie tendrá que preocuparse por mí",
                 "ya no seré una carga", "ya no estaré aquí para nadie"],
        "topic": ["suicidio", "suicidarse"],
        "intent": ["lo voy a hacer", "voy a hacerlo", "lo haré"],
        "farewell": ["carta de despedida", "cartas de despedida", "les dejé cartas", "le dejé una carta",
                     "regalé mis cosas", "regalé mi perro", "regalé mi gato"],
        "final": ["ya lo decidí", "lo he decidido", "ya está decidido", "todo planeado", "ya está todo listo",
                  "todo está listo", "para siempre", "es la última vez", "ya tengo la fecha", "ya tengo todo"],
        "means": ["pastillas", "el puente", "del puente", "una cuerda", "la cuerda", "pistola", "el arma", "las vías",
                  "el tren", "la azotea", "cuchilla", "veneno", "insulina", "tirarme", "saltar"],
        "timing": ["esta noche", "hoy", "mañana", "este fin de semana", "el viernes", "el sábado", "el domingo",
                   "el lunes", "esta semana", "antes de navidad"],
        "retract": ["no voy a hacer nada", "no haría nada", "nunca lo haría", "no lo haría"],
        "negators": ["no", "nunca", "jamás", "ni"],
    },
    "pt": {
        "active": ["quero morrer", "vou me matar", "quero me matar", "vou me suicidar", "penso em me suicidar",
                   "tirar minha vida", "tirar a minha vida", "acabar com a minha vida", "acabar com minha vida",
                   "não quero mais viver", "não quero viver", "eu acabo com tudo", "vou acabar com tudo", "matar-me",
                   "suicidar-me", "planejando me matar", "planejando morrer", "vou me jogar da ponte", "eu me mato",
                   "vou pular da ponte", "tomar todos os comprimidos", "vou me jogar"],
        "passive": ["dormir e não acordar", "nunca mais acordar", "desaparecer para sempre", "não tenho vontade de viver",
                    "não tenho mais vontade de viver",
                    "estariam melhor sem mim", "cansad* de viver", "acabar com tudo"],
        "gone": ["já não estarei cá", "em breve não estarei", "ninguém vai ter que se preocupar comigo"],
        "topic": ["suicídio"],
        "intent": ["vou fazer isso", "vou fazer isto", "eu vou fazer"],
        "farewell": ["carta de despedida", "cartas de despedida", "dei as minhas coisas", "dei minhas coisas",
                     "dei o meu cachorro", "dei o meu gato", "só queria dizer adeus"],
        "final": ["já decidi", "está decidido", "tudo planejado", "tudo pronto", "para sempre", "última vez",
                  "já escolhi o dia", "separei os comprimidos", "guardando os comprimidos"],
        "means": ["comprimidos", "remédios", "pílulas", "a ponte", "da ponte", "corda", "arma", "o trem",
                  "os trilhos", "telhado", "lâmina", "veneno", "insulina", "pular", "me jogar"],
        "timing": ["hoje à noite", "esta noite", "hoje", "amanhã", "este fim de semana", "sexta-feira", "sábado",
                   "domingo", "esta semana"],
        "retract": ["não vou fazer nada", "não faria nada", "nunca faria isso"],
        "negators": ["não", "nunca", "jamais", "nem"],
    },
    "fr": {
        "active": ["je veux mourir", "envie de mourir", "je vais me tuer", "me suicider", "je pense au suicide",
                   "mettre fin à mes jours", "mettre fin à ma vie", "envie d'en finir", "je ne veux plus vivre",
                   "m'ôter la vie", "je veux me tuer", "envie de me tuer", "je vais me suicider", "je me tue",
                   "je me suicide", "je saute du pont", "avaler toutes mes", "avaler tous mes", "avaler tous les"],
        "passive": ["m'endormir et ne jamais me réveiller", "ne plus me réveiller", "disparaître pour toujours",
                    "seraient mieux sans moi", "fatigué* de vivre", "marre de vivre"],
        "gone": ["bientôt je ne serai plus", "personne ne me regrettera", "plus personne n'aura à s'inquiéter",
                 "je ne serai plus là pour personne"],
        "topic": ["suicide"],
        "intent": ["je vais le faire", "je le ferai", "je vais passer à l'acte"],
        "farewell": ["lettre d'adieu", "lettres d'adieu", "adieu à tous", "donné mes affaires"],
        "final": ["j'ai décidé", "c'est décidé", "tout est prêt", "pour toujours", "la dernière fois",
                  "j'ai choisi la date"],
        "means": ["cachets", "médicaments", "comprimés", "le pont", "du pont", "une corde", "la corde", "fusil",
                  "les rails", "le toit", "rasoir", "poison", "insuline", "sauter", "je saute"],
        "timing": ["ce soir", "cette nuit", "demain", "aujourd'hui", "ce week-end", "ce weekend", "vendredi",
                   "samedi", "dimanche", "demain matin"],
        "retract": ["je ne ferais rien", "je ne vais rien faire", "je ne ferai rien", "jamais je ne ferais"],
        "negators": ["ne", "pas", "jamais", "non"],
    },
    "de": {
        "active": ["ich will sterben", "möchte sterben", "bringe mich um", "bringe ich mich um",
                   "mir das leben nehmen", "meinem leben ein ende", "will nicht mehr leben",
                   "möchte nicht mehr leben", "will nicht mehr da sein", "ich will mich umbringen",
                   "ich bring mich um", "bring ich mich um", "ich werde mich umbringen", "mich umzubringen",
                   "will nur noch sterben", "ich häng mich auf", "ich hänge mich auf", "häng ich mich auf",
                   "spring ich vor den zug", "ich springe vor den zug", "töte ich mich", "ich töte mich",
                   "ich will tot sein", "alle tabletten auf einmal",
                   # the verb comes last, after a time or a place
                   "werde mich … umbringen", "will mich … umbringen", "möchte mich … umbringen",
                   "werde mir … das leben nehmen", "will mir … das leben nehmen", "werde mich … töten",
                   "werde mich … erhängen", "werde mich … aufhängen"],
        "passive": ["einschlafen und nicht mehr aufwachen", "nie mehr aufwachen", "für immer verschwinden",
                    "besser dran ohne mich", "lebensmüde", "mich ritzen", "ich will nicht mehr"],
        "gone": ["werde nicht mehr lange da sein", "niemand muss sich mehr sorgen"],
        "topic": ["suizid", "selbstmord"],
        "intent": ["ich werde es tun", "werde ich es tun"],
        "farewell": ["abschiedsbrief*"],
        "final": ["ich habe mich entschieden", "alles ist klar", "alles ist bereit", "ist es so weit",
                  "ist es soweit", "für immer", "das letzte mal", "liegen schon bereit", "alles geregelt"],
        "means": ["tabletten", "pillen", "die brücke", "von der brücke", "ein seil", "strick", "waffe", "vor den zug",
                  "die gleise", "vom dach", "klinge", "gift", "insulin", "springen"],
        "timing": ["heute nacht", "heute abend", "heute", "morgen", "am wochenende", "am samstag", "am sonntag",
                   "am freitag", "diese woche"],
        "retract": ["ich werde nichts tun", "ich würde nichts tun", "ich würde das nie tun", "ich tue mir nichts an"],
        "negators": ["nicht", "nie", "niemals", "kein", "keine"],
    },
    "it": {
        "active": ["voglio morire", "mi uccido", "mi ammazzo", "suicidarmi", "penso al suicidio", "togliermi la vita",
                   "non voglio più vivere", "buttarmi dal ponte", "voglio uccidermi", "voglio ammazzarmi",
                   "mi butto dal ponte", "voglio farla finita", "la faccio finita", "mi butto",
                   "prendo tutte le pillole", "penso di farla finita", "pensando di farla finita"],
        "passive": ["addormentarmi e non svegliarmi", "non svegliarmi più", "sparire per sempre",
                    "starebbero meglio senza di me", "stanc* di vivere"],
        "gone": ["presto non ci sarò", "nessuno dovrà preoccuparsi"],
        "topic": ["suicidio"],
        "intent": ["lo farò"],
        "farewell": ["lettera d'addio", "lettere d'addio", "regalato le mie cose", "regalato il mio cane",
                     "regalato il mio gatto", "ho scritto le lettere per", "scritto le lettere per"],
        "final": ["ho deciso", "è deciso", "tutto pronto", "per sempre", "l'ultima volta"],
        "means": ["pillole", "pastiglie", "farmaci", "il ponte", "dal ponte", "una corda", "pistola", "i binari",
                  "il tetto", "lametta", "veleno", "insulina", "buttarmi"],
        "timing": ["stasera", "stanotte", "oggi", "domani", "questo fine settimana", "domenica", "sabato", "venerdì"],
        "retract": ["non farò niente", "non farei niente", "non lo farei mai"],
        "negators": ["non", "mai", "né"],
    },
    "nl": {
        "active": ["ik wil dood", "wil dood", "mezelf van kant maken", "mezelf doden", "een einde aan mijn leven",
                   "ik wil niet meer leven", "wil niet meer leven", "ik maak er een einde aan",
                   "ik ga er een einde aan maken", "ga mezelf … van kant maken", "ga mezelf … doden",
                   "ga mezelf … ophangen"],
        "passive": ["niet meer wakker worden", "voor altijd verdwijnen", "beter af zonder mij", "moe van het leven",
                    "het zat om hier te zijn"],
        "gone": ["ben ik er niet meer", "hoeft niemand zich meer zorgen"],
        "topic": ["zelfmoord"],
        "intent": ["ik ga het doen"],
        "farewell": ["afscheidsbrie*"],
        "final": ["alles is klaar", "ik heb besloten", "is het zover", "voor altijd", "de laatste keer"],
        "means": ["pillen", "de brug", "een touw", "wapen", "de trein", "het spoor", "het dak", "mesje", "gif",
                  "springen"],
        "timing": ["vanavond", "vannacht", "vandaag", "morgen", "dit weekend", "zaterdag", "zondag", "vrijdag"],
        "retract": ["ik ga niets doen", "ik zou niets doen", "ik zou het nooit doen"],
        "negators": ["niet", "nooit", "geen"],
    },
    "pl": {
        "active": ["chcę umrzeć", "chcę się zabić", "zabić się", "zabiję się", "popełnić samobójstwo",
                   "odebrać sobie życie", "skończyć ze sobą", "nie chcę już żyć", "nie chcę żyć", "się zabiję",
                   "zabić siebie", "połknę wszystkie tabletki"],
        "passive": ["zasnąć i się nie obudzić", "zniknąć na zawsze", "lepiej beze mnie", "zmęczon* życiem",
                    "okaleczać się"],
        "gone": ["niedługo mnie nie będzie", "nikt nie będzie musiał się martwić"],
        "topic": ["samobójstw*"],
        "intent": ["zrobię to", "to zrobię"],
        "farewell": ["listy pożegnalne", "list pożegnalny", "rozdałam wszystkie", "rozdałem wszystkie",
                     "spłaciłem wszystkie długi", "spłaciłam wszystkie długi"],
        "final": ["zdecydowałam", "zdecydowałem", "wszystko gotowe", "na zawsze", "ostatni raz"],
        "means": ["tabletki", "tabletek", "z mostu", "sznur", "broń", "pod pociąg", "tory", "z dachu", "żyletk*",
                  "trucizn*", "skoczyć"],
        "timing": ["dziś w nocy", "dzisiaj", "dziś", "jutro", "w sobotę", "w niedzielę", "w piątek", "w ten weekend"],
        "retract": ["nic nie zrobię", "nigdy bym tego nie zrobił*"],
        "negators": ["nie", "nigdy"],
    },
    "ru": {
        "active": ["хочу умереть", "покончить с собой", "убить себя", "убью себя", "покончу с собой", "не хочу жить",
                   "больше не хочу жить", "лишить себя жизни", "повешусь", "хочу уйти из жизни", "выпилюсь",
                   "выпилиться", "покончу с жизнью", "покончить с жизнью", "выпью все таблетки", "прыгну с моста",
                   "сброшусь с"],
        "passive": ["уснуть и не проснуться", "исчезнуть навсегда", "лучше без меня", "устал* жить", "резать себя",
                    "порезать себя"],
        "gone": ["скоро меня не будет", "никому не придётся"],
        "topic": ["суицид*", "самоубийств*"],
        "intent": ["я сделаю это", "сделаю это"],
        "farewell": ["прощальн*", "письма родным", "раздал* все", "раздал* свои вещи"],
        "final": ["я решил*", "всё готово", "все готово", "навсегда", "в последний раз"],
        "means": ["таблетки", "таблеток", "с моста", "верёвк*", "веревк*", "пистолет", "ружьё", "под поезд", "рельсы",
                  "с крыши", "лезвие", "яд", "инсулин", "прыгнуть"],
        "timing": ["сегодня ночью", "сегодня", "завтра", "в эти выходные", "на выходных", "в субботу", "в пятницу",
                   "в воскресенье"],
        "retract": ["ничего не сделаю", "я ничего с собой не сделаю", "никогда этого не сделаю"],
        "negators": ["не", "нет", "никогда"],
    },
    "uk": {
        "active": ["хочу померти", "покінчити з собою", "вбити себе", "не хочу жити", "більше не хочу жити"],
        "passive": ["заснути і не прокинутися", "зникнути назавжди", "краще без мене"],
        "gone": ["скоро мене не буде"],
        "topic": ["самогубств*"],
        "intent": ["я зроблю це"],
        "farewell": ["прощальн*", "роздав* все"],
        "final": ["я вирішив*", "все готово", "назавжди", "востаннє"],
        "means": ["таблетки", "з мосту", "мотузк*", "під потяг", "з даху"],
        "timing": ["сьогодні вночі", "сьогодні", "завтра", "цими вихідними", "в суботу"],
        "retract": ["нічого не зроблю"],
        "negators": ["не", "ні", "ніколи"],
    },
    "tr": {
        "active": ["ölmek istiyorum", "kendimi öldür*", "intihar edeceğim", "intihar etmek istiyorum",
                   "intihar etmeyi düşünüyorum", "canıma kıy*", "hayatıma son ver*", "yaşamak istemiyorum",
                   "kendimi asacağım", "öleceğim bu gece", "kendimi köprüden atacağım"],
        "passive": ["uyuyup uyanmamak", "sonsuza dek kaybolmak", "bensiz daha iyi", "yaşamaktan yoruldum",
                    "kendime zarar"],
        "gone": ["yakında olmayacağım"],
        "topic": ["intihar"],
        "intent": [],
        "farewell": ["veda mektubu", "herkesle vedalaştım", "eşyalarımı dağıttım"],
        "final": ["karar verdim", "her şey hazır", "sonsuza dek", "son kez", "bir plan da yaptım", "plan yaptım"],
        "means": ["hapları", "köprüden", "silah", "trenin önüne", "çatıdan", "jilet", "zehir", "atlayacağım"],
        "timing": ["bu gece", "bugün", "yarın", "bu hafta sonu", "cumartesi", "pazar", "cuma"],
        "retract": ["bir şey yapmayacağım", "asla yapmam"],
        "negators": ["değil", "asla", "hiç"],
    },
    "el": {
        "active": ["θέλω να πεθάνω", "να σκοτωθώ", "να αυτοκτονήσω", "δεν θέλω να ζω", "δεν θέλω να ζήσω",
                   "να τελειώσω τη ζωή μου", "θα αυτοκτονήσω", "θα σκοτωθώ"],
        "passive": ["να κοιμηθώ και να μην ξυπνήσω", "να εξαφανιστώ για πάντα", "καλύτερα χωρίς εμένα"],
        "gone": ["δεν θα είμαι εδώ", "σύντομα δεν θα υπάρχω"],
        "topic": ["αυτοκτονί*"],
        "intent": [],
        "farewell": ["γράμμα αποχαιρετισμού", "αποχαιρέτησα όλους"],
        "final": ["αποφάσισα", "πήρα την απόφασή μου", "όλα είναι έτοιμα", "για πάντα", "τελευταία φορά"],
        "means": ["χάπια", "γέφυρα", "σκοινί", "όπλο", "ταράτσα", "ξυράφι", "δηλητήριο"],
        "timing": ["απόψε", "σήμερα", "αύριο", "αυτό το σαββατοκύριακο", "το σάββατο"],
        "retract": ["δεν θα κάνω τίποτα"],
        "negators": ["δεν", "μην", "ποτέ", "όχι"],
    },
    "ar": {
        "active": ["أريد أن أموت", "أقتل نفسي", "أنتحر", "أنهي حياتي", "لا أريد أن أعيش", "سأنهي حياتي", "سأنتحر",
                   "سأقتل نفسي", "أريد الموت", "سأرمي نفسي"],
        "passive": ["أنام ولا أستيقظ", "أختفي للأبد", "أفضل بدوني", "تعبت من الحياة", "أؤذي نفسي"],
        "gone": ["لن تروني", "قريبا لن أكون"],
        "topic": ["الانتحار", "انتحار"],
        "intent": [],
        "farewell": ["رسالة وداع", "ودعت الجميع", "أعطيت أغراضي"],
        "final": ["قررت", "كل شيء جاهز", "للأبد", "آخر مرة"],
        "means": ["حبوب", "الحبوب", "الجسر", "حبل", "مسدس", "القطار", "السطح", "شفرة", "سم"],
        "timing": ["الليلة", "اليوم", "غدا", "نهاية الأسبوع", "يوم الجمعة", "الجمعة", "السبت"],
        "retract": ["لن أفعل شيئا"],
        "negators": ["لا", "لن", "لم", "ليس"],
    },
    "he": {
        "active": ["רוצה למות", "להתאבד", "אתאבד", "להרוג את עצמי", "לשים קץ לחיים", "לא רוצה לחיות", "אני אתאבד",
                   "אני הולך להתאבד", "אני הולכת להתאבד", "אתלה את עצמי", "קופץ מהגג"],
        "passive": ["להירדם ולא להתעורר", "להיעלם לתמיד", "טוב יותר בלעדיי", "נמאס לי לחיות"],
        "gone": ["בקרוב לא אהיה"],
        "topic": ["התאבדות"],
        "intent": [],
        "farewell": ["מכתב פרידה", "נפרדתי מכולם"],
        "final": ["החלטתי", "הכול מוכן", "הכל מוכן", "לתמיד", "פעם אחרונה"],
        "means": ["כדורים", "גשר", "חבל", "אקדח", "רכבת", "גג"],
        "timing": ["הלילה", "היום", "מחר", "בסוף השבוע", "בשבת"],
        "retract": ["לא אעשה כלום"],
        "negators": ["לא", "אל"],
    },
    "hi": {
        "active": ["मरना चाहता", "मरना चाहती", "खुद को मार", "आत्महत्या कर", "खुदकुशी कर", "खुद को खत्म",
                   "जीना नहीं चाहता", "जीना नहीं चाहती", "मर जाऊँगा", "मर जाऊँगी", "फाँसी लगा", "पुल से कूद",
                   "अपनी जान ले"],
        "passive": ["सो जाऊँ और न उठूँ", "गायब हो जाऊँ", "मेरे बिना बेहतर"],
        "gone": ["मैं नहीं रहूँगा", "मैं नहीं रहूँगी"],
        "topic": ["आत्महत्या", "खुदकुशी"],
        "intent": [],
        "farewell": ["आखिरी खत", "सबको अलविदा"],
        "final": ["तय कर लिया", "फैसला कर लिया", "सब तैयार", "हमेशा के लिए", "आखिरी बार"],
        "means": ["गोलियाँ", "गोलियां", "पुल", "रस्सी", "बंदूक", "ट्रेन", "छत", "ज़हर", "जहर"],
        "timing": ["आज रात", "आज", "कल", "इस हफ्ते", "शनिवार", "रविवार"],
        "retract": ["कुछ नहीं करूँगा", "कुछ नहीं करूँगी"],
        "negators": ["नहीं", "न", "मत"],
    },
    # Hindi and Urdu written in Latin letters, as in chat.
    "hi-latn": {
        "active": ["marna chahta", "marna chahti", "mar jana chahta", "mar jana chahti", "khud ko maar",
                   "khudkushi kar", "aatmahatya kar", "jeena nahi chahta", "jeena nahi chahti", "jina nahi chahta",
                   "jina nahi chahti", "khud ko khatam", "sab khatam karne ka plan", "khud ko khatam kar",
                   "marna hai mujhe", "mujhe marna hai", "mar jaunga", "mar jaungi", "mar jaana hai",
                   "suicide kar lunga", "suicide kar lungi", "suicide karunga", "suicide karungi", "phaansi laga",
                   "phansi laga"],
        "passive": ["gayab ho jaun", "mere bina behtar", "ab aur nahi jeena", "nahi jeena"],
        "gone": ["main nahi rahunga", "main nahi rahungi"],
        "topic": ["khudkushi", "aatmahatya"],
        "intent": [],
        "farewell": ["sabko alvida", "saari cheezein de di", "sari cheezein de di"],
        "final": ["plan bana liya", "decide kar liya", "faisla kar liya", "tay kar liya", "sab tayyar",
                  "hamesha ke liye", "aakhri baar", "aakhri din"],
        "means": ["goliyan", "goliyaan", "rassi", "bandook", "train ke aage", "zeher", "zehar"],
        "timing": ["aaj raat", "kal raat", "is hafte"],
        "retract": ["kuch nahi karunga", "kuch nahi karungi"],
        "negators": ["nahi", "nahin", "mat"],
    },
    "id": {
        "active": ["ingin mati", "mau mati", "ingin bunuh diri", "mau bunuh diri", "akan bunuh diri",
                   "untuk bunuh diri", "membunuh diriku", "tidak mau hidup lagi", "tidak ingin hidup lagi",
                   "gak mau hidup lagi", "nggak mau hidup lagi", "mengakhiri hidupku", "mengakhiri hidup saya",
                   "pengen mati", "pengen bunuh diri"],
        "passive": ["tidur dan tidak bangun", "menghilang selamanya", "lebih baik tanpa aku", "lelah hidup",
                    "menyakiti diri"],
        "gone": ["aku tidak akan ada", "sebentar lagi aku pergi"],
        "topic": ["bunuh diri"],
        "intent": ["aku akan melakukannya", "akan kulakukan"],
        "farewell": ["surat perpisahan"],
        "final": ["sudah memutuskan", "sudah kuputuskan", "semua sudah siap", "selamanya", "terakhir kali"],
        "means": ["pil", "obat", "jembatan", "tali", "pistol", "kereta", "atap", "silet", "racun", "melompat"],
        "timing": ["malam ini", "hari ini", "besok", "minggu ini", "akhir pekan ini"],
        "retract": ["tidak akan melakukan apa-apa", "aku tidak akan melakukannya"],
        "negators": ["tidak", "tak", "gak", "nggak", "bukan", "jangan"],
    },
    "tl": {
        "active": ["gusto ko nang mamatay", "gusto kong mamatay", "magpapakamatay", "magpakamatay",
                   "patayin ang sarili", "tapusin ang buhay ko", "ayoko nang mabuhay"],
        "passive": ["matulog at hindi na magising", "mas mabuti kung wala ako", "pagod na akong mabuhay"],
        "gone": ["hindi na ako magtatagal", "mawawala na ako"],
        "topic": ["pagpapakamatay"],
        "intent": ["gagawin ko na"],
        "farewell": ["ibinigay ko na ang mga gamit ko"],
        "final": ["desidido na ako", "nakapagpasya na ako", "handa na ang lahat", "huling beses"],
        "means": ["gamot", "tulay", "lubid", "baril", "bubong", "lason", "tatalon"],
        "timing": ["mamayang gabi", "ngayong gabi", "ngayon", "bukas"],
        "retract": ["hindi ko gagawin"],
        "negators": ["hindi", "huwag", "wag"],
    },
    "sw": {
        "active": ["nataka kufa", "kujiua", "nitajiua", "kujitoa uhai", "sitaki kuishi", "nimechoka kuishi",
                   "nitajinyonga", "kujinyonga", "nataka kujiua"],
        "passive": ["kulala na nisiamke", "kutoweka milele", "bora bila mimi"],
        "gone": ["hivi karibuni sitakuwepo"],
        "topic": [],
        "intent": [],
        "farewell": ["barua ya kuaga"],
        "final": ["nimeamua", "kila kitu tayari", "milele", "mara ya mwisho"],
        "means": ["vidonge", "daraja", "kamba", "bunduki", "treni", "sumu"],
        "timing": ["usiku wa leo", "leo usiku", "leo", "kesho usiku", "kesho", "wikendi hii"],
        "retract": ["sitafanya chochote"],
        "negators": ["si", "sio", "hapana"],
    },
    "vi": {
        "active": ["muốn tự sát", "giết bản thân", "kết thúc cuộc đời", "không muốn sống nữa", "tôi muốn chết",
                   "tôi muốn tự sát", "tôi sẽ tự sát"],
        "passive": ["ngủ và không tỉnh dậy", "biến mất mãi mãi", "tốt hơn khi không có tôi"],
        "gone": ["tôi sẽ không còn ở đây"],
        "topic": ["tự sát"],
        "intent": [],
        "farewell": ["thư tuyệt mệnh", "thư từ biệt", "vĩnh biệt mọi người"],
        "final": ["tôi đã quyết định", "mọi thứ đã sẵn sàng", "mãi mãi", "lần cuối"],
        "means": ["thuốc ngủ", "cây cầu", "dây thừng", "súng", "mái nhà", "lưỡi dao"],
        "timing": ["tối nay", "đêm nay", "hôm nay", "ngày mai", "cuối tuần này"],
        "retract": ["tôi sẽ không làm gì"],
        "negators": ["không", "chưa", "đừng"],
    },
    "zh": {
        "active": ["想死了", "我要自杀", "想自杀", "想自殺", "我要自殺", "结束自己的生命", "結束自己的生命", "结束我的生命", "不想活了", "了结自己", "了結自己",
                   "我想死了", "好想死", "真的想死", "想去死", "我想自杀", "我想自殺", "去跳楼", "要跳楼", "就跳楼", "从楼顶跳", "從樓頂跳"],
        "passive": ["睡着了就不要醒来", "永远消失", "永遠消失", "没有我会更好", "沒有我會更好", "活着好累", "伤害自己", "傷害自己", "割腕", "结束这一切", "結束這一切",
                    "不想再活", "活着没意思", "活著沒意思"],
        "gone": ["我就不在了", "不会再在这里", "不會再在這裡"],
        "topic": ["自杀", "自殺", "轻生", "輕生"],
        "intent": [],
        "farewell": ["遗书", "遺書", "告别信", "告別信"],
        "final": ["已经决定", "已經決定", "决定了", "決定了", "都准备好", "都準備好", "日子都选好", "日子都選好", "永远", "永遠", "最后一次", "最後一次"],
        "means": ["安眠药", "安眠藥", "药片", "藥片", "桥上", "橋上", "绳子", "繩子", "枪", "槍", "卧轨", "臥軌", "楼顶", "樓頂", "跳楼", "跳樓",
                  "刀片", "毒药", "毒藥"],
        "timing": ["今晚", "今天晚上", "今天", "明天", "明天晚上", "这个周末", "這個週末", "周末", "週末"],
        "retract": ["我不会做傻事", "我不會做傻事"],
        "negators": ["不", "没", "沒", "别", "別"],
    },
    "ja": {
        "active": ["死にたい", "死のうと思", "自殺したい", "命を絶", "生きていたくない", "死ぬつもり", "自殺するつもり", "首を吊る", "飛び降りる", "屋上から飛ぶ"],
        "passive": ["眠ったまま目が覚めなければ", "いなくなりたい", "消えたい", "いない方がいい", "生きるのに疲れた", "自分を傷つけ"],
        "gone": ["もういなくなる", "もうここにはいない"],
        "topic": ["自殺", "自死"],
        "intent": [],
        "farewell": ["遺書", "お別れの手紙"],
        "final": ["もう決めた", "準備はできている", "永遠に"],
        "means": ["睡眠薬", "あの橋", "ロープ", "線路", "屋上", "飛び降り", "カミソリ"],
        "timing": ["今夜", "今日", "明日", "今週末", "週末"],
        "retract": ["何もしない"],
        "negators": [],
    },
    "ko": {
        "active": ["죽고 싶어", "죽고 싶다", "죽고싶어", "죽고싶다", "자살하고 싶", "자살할 거", "목숨을 끊", "내 삶을 끝내", "살고 싶지 않아", "살고 싶지 않다",
                   "더 이상 살고 싶지", "자살할래", "자살할게", "뛰어내릴 거야"],
        "passive": ["잠들어서 깨지 않", "영원히 사라지고", "나 없는 게 나아", "사는 게 지쳐", "죽을 거야", "죽을래", "죽어버릴"],
        "gone": ["더 이상 여기 없을", "곧 없을 거야"],
        "topic": ["자살"],
        "intent": [],
        "farewell": ["유서를 썼", "유서 썼"],
        "final": ["결심했어", "결정했어", "영원히"],
        "means": ["수면제", "다리에서", "밧줄", "옥상", "약 다 모아", "약을 다 모아", "약을 모아"],
        "timing": ["오늘 밤", "오늘밤", "오늘", "내일", "이번 주말"],
        "retract": ["아무것도 안 할"],
        "negators": [],
    },
    "th": {
        "active": ["อยากตาย", "อยากฆ่าตัวตาย", "ไม่อยากมีชีวิตอยู่", "จบชีวิตตัวเอง", "กระโดดตึก"],
        "passive": ["หลับแล้วไม่ตื่น", "หายไปตลอดกาล", "ไม่อยากอยู่แล้ว"],
        "gone": ["จะไม่อยู่แล้ว"],
        "topic": ["ฆ่าตัวตาย"],
        "intent": [],
        "farewell": ["จดหมายลา"],
        "final": ["ตัดสินใจแล้ว", "ตลอดไป", "ครั้งสุดท้าย"],
        "means": ["ยานอนหลับ", "สะพาน", "เชือก", "ปืน", "ดาดฟ้า"],
        "timing": ["คืนนี้", "วันนี้", "พรุ่งนี้", "สุดสัปดาห์นี้"],
        "retract": ["จะไม่ทำอะไร"],
        "negators": ["ไม่"],
    },
}


@dataclasses.dataclass(frozen=True)
class _Phrase:
    kind: str
    language: str
    words: tuple[str, ...]  # folded; _GAP where other words may stand
    stems: tuple[bool, ...]  # whether each word matches any word that starts with it


@dataclasses.dataclass(frozen=True)
class Match:
    kind: str
    language: str  # a key of _LEXICON
    start: int  # offsets into the folded text, end exclusive
    end: int


# A word of folded text: letters, digits and inner apostrophes ("d'en", "aujourd'hui").
_WORD = re.compile(r"\w+(?:'\w+)*")
# The mark for other words inside a phrase, how many may stand there, and the
# conjunctions that start another clause there ("… treffen und dann umbringen wir die Zeit").
_GAP = "…"
_GAP_WORDS = 5
_GAP_BREAKS = frozenset({"und", "oder", "aber", "sondern", "dann", "y", "o", "pero", "et", "ou", "mais", "e", "ma",
                         "en", "of", "maar", "and", "or", "but", "then"})
# Letters of the scripts whose phrases match anywhere (Thai, kana, CJK ideographs, Hangul).
# Folding decomposes Hangul syllables into conjoining jamo (U+1100..U+11FF).
_UNSPACED_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af"
                              r"\uf900-\ufaff]")
# Words for a joke: a negator next to one of them ("not joking", "şaka değil") affirms.
_JOKE_WORDS = (
    "broma", "bromeando", "brincadeira", "brincando", "blague", "rigole", "scherzo", "scherzando", "spass", "witz",
    "grapje", "zartuje", "zartuję", "шучу", "жартую", "şaka", "saka", "αστειεύομαι", "أمزح", "امزح", "צוחק",
    "צוחקת", "mazaak", "mazak", "bercanda", "biro", "nagbibiro", "utani", "đùa")
# Japanese and Korean negate after the verb ("死にたいとは思わない", "자살하고 싶지 않아",
# "목숨을 끊을 생각은 전혀 없어"): a negating ending in the rest of the clause.
_NEGATED_AFTER = {"ja": re.compile(r"[^。、,.!?]{0,12}?(?:ない|ません|なかった)"),
                  "ko": re.compile(r"[^,.!?]{0,30}?(?:" + "|".join(
                      re.escape(fold(ending, map_lookalikes=False).text) for ending in ("않", "없어", "없다", "없음", "아니"))
                      + ")")}


class Lexicon:
    """The folded phrases, indexed for a scan that costs one dictionary lookup per word.

    Phrases of spaced scripts are matched word by word: a candidate list per first word
    (and a short list of phrases that start with a stem), then the following words.
    Phrases of unspaced scripts are found with ``str.find``, only in text that has a
    letter of those scripts.
    """

    def __init__(self) -> None:
        self.by_first_word: dict[str, list[_Phrase]] = {}
        # Phrases whose first word is a stem, by the stem's first two characters.
        self.stem_first: dict[str, list[_Phrase]] = {}
        self.unspaced: list[tuple[str, str, str]] = []  # (kind, language, folded phrase)
        self.negators: dict[str, frozenset[str]] = {}
        for language, kinds in _LEXICON.items():
            self.negators[language] = frozenset(_fold(word) for word in kinds["negators"])
            for kind in KINDS:
                for phrase in kinds.get(kind, []):
                    self._add(kind, language, phrase)

    def _add(self, kind: str, language: str, phrase: str) -> None:
        if language in _UNSPACED:
            self.unspaced.append((kind, language, _fold(phrase)))
            return
        words, stems = [], []
        for word in phrase.split():
            if word == _GAP:
                words.append(_GAP)
                stems.append(False)
                continue
            folded = _fold(word.rstrip("*"))
            # Folding can split a word ("week-end" keeps one word, "l'ultima" too).
            parts = _WORD.findall(folded)
            words += parts
            stems += [False] * (len(parts) - 1) + [word.endswith("*")]
        entry = _Phrase(kind, language, tuple(words), tuple(stems))
        if stems[0]:
            self.stem_first.setdefault(words[0][:2], []).append(entry)
        else:
            self.by_first_word.setdefault(words[0], []).append(entry)

    def find(self, text: str, limit: int) -> list[Match]:
        """Return the phrases in folded ``text``, at most ``limit`` of each kind, in text order per kind."""
        found: list[Match] = []
        counts = dict.fromkeys(KINDS, 0)
        matches = list(_WORD.finditer(text))
        words = [m.group() for m in matches]
        by_first_word, stem_first = self.by_first_word, self.stem_first
        for index, word in enumerate(words):
            candidates = by_first_word.get(word)
            stemmed = stem_first.get(word[:2])
            if candidates is None and stemmed is None:
                continue
            if stemmed is not None:
                candidates = (candidates or []) + [p for p in stemmed if word.startswith(p.words[0])]
            start = matches[index].start()
            for phrase in candidates:
                if counts[phrase.kind] >= limit:
                    continue
                last = self._last_word(text, matches, index, phrase)
                if last is not None:
                    found.append(Match(phrase.kind, phrase.language, start, matches[last].end()))
                    counts[phrase.kind] += 1

        if _UNSPACED_SCRIPT.search(text):
            for kind, language, phrase in self.unspaced:
                position = text.find(phrase)
                while position != -1 and counts[kind] < limit:
                    found.append(Match(kind, language, position, position + len(phrase)))
                    counts[kind] += 1
                    position = text.find(phrase, position + len(phrase))
        return found

    def _last_word(self, text: str, matches: list[re.Match], index: int, phrase: _Phrase) -> int | None:
        """Return the index of the phrase's last word when the phrase starts at word ``index``, or None."""
        negators = self.negators[phrase.language]
        position = index
        gap = 0
        for expected, stem in zip(phrase.words[1:], phrase.stems[1:]):
            if expected == _GAP:
                gap = _GAP_WORDS
                continue
            for candidate in range(position + 1, min(position + 2 + gap, len(matches))):
                if _word_matches(matches[candidate].group(), expected, stem):
                    break
            else:
                return None
            skipped = [m.group() for m in matches[position + 1:candidate]]
            if skipped and (any(word in negators or word in _GAP_BREAKS for word in skipped)
                            or _SENTENCE_END.search(text, matches[position].end(), matches[candidate].start())):
                return None
            position, gap = candidate, 0
        return position

    def is_negated(self, text: str, match: Match) -> bool:
        """Check whether a negator of the phrase's language negates it.

        For spaced scripts, the word right before the phrase, unless a word for a joke
        comes before that negator ("şaka değil ölmek istiyorum"). For Chinese and
        Thai, a negator right before it ("不想死"). For Japanese and Korean, a
        negating ending right after it.
        """
        negators = self.negators[match.language]
        if match.language in _NEGATED_AFTER:
            return _NEGATED_AFTER[match.language].match(text, match.end) is not None
        if match.language in _UNSPACED:
            return any(text.endswith(negator, 0, match.start) for negator in negators)
        clause = re.split(r"[,;:.!?]", text[max(0, match.start - 60):match.start])[-1]
        before = _WORD.findall(clause)
        if not before or before[-1] not in negators:
            return False
        return not (len(before) >= 2 and before[-2] in _JOKE_WORDS_FOLDED)


def _fold(phrase: str) -> str:
    return fold(phrase, map_lookalikes=False).text


def _word_matches(word: str, expected: str, stem: bool) -> bool:
    return word.startswith(expected) if stem else word == expected


_JOKE_WORDS_FOLDED = frozenset(_fold(word) for word in _JOKE_WORDS)
LEXICON = Lexicon()


# "Acabar con todo el trabajo" ends the work, not a life: an article or a possessive after
# "todo" or "tudo" makes the phrase literal, unless a time follows it ("todo esta noche").
_ALL_WITH_OBJECT = re.compile(r"(?:todo|tudo)\s+(?:el|la|los|las|lo|este|esta|estos|estas|ese|esa|eso|mi|mis|tu"
                              r"|o|a|os|as|isso|esse|essa|meu|minha|meus|minhas)(?!\w)"
                              r"(?!\s+(?:noche|noite|semana|fin|fim|tarde|madrugada|vez|mes|dia)(?!\w))"
                              r"|(?:todo|tudo)(?:\s+\w+)?\s*:")
# "Farla finita con il lavoro", "en finir avec la cigarette": ending something named after "with".
_ENDS_WITH_OBJECT = re.compile(r"\s+(?:con|avec|com|mit|met|with|z|ze|с)\s+(?!(?:todo|tudo|tout|alles|allem|tutto"
                               r"|mi vida|ma vie|minha vida|la mia vita|meinem leben|mijn leven|moim zyciem)(?!\w))")
# "Me quiero morir de la vergüenza": dying of shame, laughter or hunger is a figure of speech.
_OF_A_FEELING = re.compile(
    r"\s+(?:de|d'|di|vor|van|z|ze|od|от|від)\s*(?:la\s+|el\s+|los\s+)?(?:verguenza|vergonha|honte|vergogna|scham|schaamte"
    r"|risa|rir|rire|ridere|lachen|hambre|fome|faim|fame|hunger|honger|sueno|sono|sommeil|calor|chaleur|caldo"
    r"|hitze|frio|froid|freddo|kalte|envidia|inveja|ganas|amor|amour|amore|curiosidad|curiosidade|curiosite"
    r"|curiosita|neugier|aburrimiento|tedio|ennui|noia|langeweile|stresu|wstydu|smiechu|nudow|стыда|смеха|скуки"
    r"|сорому|смiху)(?!\w)"
    # Dying of old age, or "killing myself studying" (me mato a estudiar).
    r"|\s+(?:de\s+)?(?:viejo|vieja|viejita|velh\w*|vieux|vieille|vecchi\w*|alt|oud|old)(?!\w)"
    r"|\s+(?:a\s+)?(?:estudiar|trabajar|entrenar|estudando|trabalhar|estudiando|trabajando|travailler|studiare)(?!\w)")
# Laughter after a phrase in the same sentence marks it as a joke ("me quiero matar jajaja"),
# unless the writer then says it is serious ("hahaha nee serieus").
_LAUGHTER = re.compile(r"(?<!\w)(?:ja(?:ja)+|je(?:je)+|ha(?:ha)+|he(?:he)+|k{3,}|rs(?:rs)+|wk(?:wk)+|mdr|ptdr|lol"
                       r"|lmao|5{3,}|w{3,})(?!\w)|哈哈|笑|ｗｗ|\u110f\u110f")
_SERIOUS = re.compile(r"(?<!\w)(?:en serio|serio|serieus|serieux|ernsthaft|sul serio|a serio|powaznie|серьезно"
                      r"|ciddi|serius|seriously|no joke|not joking)(?!\w)")
# "No quiero vivir en esta casa": a "live" followed by where is about a home, unless the
# place is the world ("no quiero vivir en este mundo").
_LIVE_VERBS = ("vivir", "viviendo", "viver", "vivendo", "vivre", "leben", "vivere", "leven", "zyc", "жить", "жити",
               "yasamak", "hidup", "ζω", "kuishi", "לחיות", "aqui")
_WHERE = re.compile(r"\s+(?:aqui|ici|hier|qui|здесь|тут|hapa|solo|sola|seul|seule|allein|alleen|sam|sama|один|одна)(?!\w)"
                    r"|\s+(?:en|em|dans|in|a|w|в|у|di|στην|στο|σε)\s+(?!(?:este|esta|ce|cette|dieser|diesem|questo|questa"
                    r"|deze|tym|этом|цьому|ini|el|le|la|der|il|de|o)?\s*(?:mundo|monde|welt|mondo|wereld|swiecie"
                    r"|мире|світі|dunia)(?!\w))")
# "Vor zehn Jahren wollte ich mich umbringen": a phrase in a sentence about years ago.
_YEARS_AGO = re.compile(r"(?<!\w)(?:hace \w+ anos|ha \w+ anos|\w+ anos atras|il y a \w+ ans|vor \w+ jahren"
                        r"|\w+ anni fa|\w+ jaar geleden|\w+ lat temu|\w+ (?:лет|года) назад|\w+ yil once"
                        r"|\w+ tahun (?:lalu|yang lalu)|\w+ years ago)(?!\w)|年前|년 전")
_SENTENCE_MARKS = ".!?\n\u3002"
_SENTENCE_END = re.compile(f"[{_SENTENCE_MARKS}]")


def _sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Return the bounds of the sentence around text[start:end], its closing mark included."""
    sentence_start = max(text.rfind(mark, 0, start) for mark in _SENTENCE_MARKS) + 1
    closing = _SENTENCE_END.search(text, end)
    return sentence_start, closing.end() if closing else len(text)


def is_figurative(text: str, start: int, end: int) -> bool:
    """Whether the words around a phrase make it literal, past or a joke, not a crisis now.

    The cases: "acabar con todo" that names what is ended ("todo el trabajo"); ending
    something named after "with" ("farla finita con il lavoro"); dying of a feeling
    ("morir de la vergüenza"); not wanting to live in a place ("no quiero vivir en
    esta casa"); a sentence about years ago; and laughter later in the same sentence
    ("me quiero matar jajaja") unless the writer then says it is serious.
    """
    if _ALL_WITH_OBJECT.match(text, max(start, end - 4)):
        return True
    if text[start:end].endswith(("finita", "finir")) and _ENDS_WITH_OBJECT.match(text, end):
        return True
    if _OF_A_FEELING.match(text, end):
        return True
    if text[start:end].endswith(_LIVE_VERBS) and _WHERE.match(text, end):
        return True
    sentence_start, sentence_end = _sentence_bounds(text, start, end)
    if _YEARS_AGO.search(text, sentence_start, sentence_end):
        return True
    laughter = _LAUGHTER.search(text, end, sentence_end)
    return laughter is not None and not _SERIOUS.search(text, laughter.end(), min(len(text), laughter.end() + 40))


# "Conducir con esta nieve es un suicidio": the word suicide as the complement of "is".
_IS_SUICIDE = re.compile(r"(?<!\w)(?:es|es un|seria un|sera un|e|e um|seria|c'est du|c'est un|ce serait du|ist|ware"
                         r"|e un|sarebbe un|to|это|is)\s*$")

# Words for someone else in the clause before a phrase ("mi amigo dice que quiere
# suicidarse", "我朋友说他想自杀"). The first-person pronoun of each language is not among them.
_OTHER_PERSON = re.compile(
    r"(?<!\w)(?:amig[oa]s?|herman[oa]|madre|padre|hij[oa]|novi[oa]|dice que|dijo que"
    r"|irma|irmao|mae|pai|filh[oa]|namorad[oa]|diz que|disse que"
    r"|ami|amie|frere|soeur|mere|pere|fils|fille|dit qu\w*"
    r"|freund|freundin|bruder|schwester|mutter|vater|sohn|tochter|sagt"
    r"|amic[oa]|fratello|sorella|figli[oa]|dice che"
    r"|vriend|vriendin|broer|zus|moeder|vader|zegt"
    r"|przyjaciel\w*|brat|siostra|mowi"
    r"|друг|подруга|брат|сестра|говорит|сказал\w*"
    r"|arkadas\w*|kardes\w*|diyor"
    r"|teman\w*|kakak|adik|bilang"
    r"|kaibigan|kapatid|sabi niya|rafiki|kaka|dada|anasema"
    r"|φιλ\w*|αδερφ\w*|λεει|صديق\w*|قال|قالت|חבר\w*|אמר|אמרה"
    r"|dost|bhai|behen|दोस्त)(?!\w)"
    r"|" + "|".join(fold(word, map_lookalikes=False).text for word in ("朋友", "哥哥", "姐姐", "妹妹", "弟弟", "友達",
                                                                       "친구", "เพื่อน")))
_REPORTED = re.compile(r"\s*(?:que|qu'|que|dass|che|dat|ze|что|що|ki|bahwa|kalau|na|that)(?!\w)")
_CLAUSE_BREAK = re.compile(r"[,;:.!?\n\u3002\uff0c]|(?<!\w)(?:y|e|und|et|ma|pero|mais|aber|but|and|ve|dan|at|na|и|а|і)(?!\w)")


def is_about_someone_else(text: str, match: Match) -> bool:
    """Check whether the clause before a phrase names another person, or the phrase is "X is suicide"."""
    if match.kind == "topic" and _IS_SUICIDE.search(text, max(0, match.start - 20), match.start):
        return True
    clauses = _CLAUSE_BREAK.split(text[max(0, match.start - 80):match.start])
    clause = clauses.pop()
    # Reported speech goes on after a comma: "mi amigo dice, que quiere morir".
    while clauses and _REPORTED.match(clause):
        clause = clauses.pop() + " " + clause
    return _OTHER_PERSON.search(clause) is not None


# A move, a trip, a new job or a party: a farewell or "forever" next to one is ordinary.
_DEPARTURE = re.compile(
    r"(?<!\w)(?:mudanza|me mudo|mudarme|viaje|vacaciones|aeropuerto|renuncia|empresa|trabajo nuevo"
    r"|mudanca|viagem|ferias|aeroporto|emprego"
    r"|demenage\w*|voyage|vacances|aeroport|collegues|nouveau travail"
    r"|umzug|ziehe|wechsle|reise|urlaub|flughafen|kollegen|neue stelle"
    r"|trasferisco|trasloco|viaggio|vacanze|colleghi|nuovo lavoro"
    r"|verhuis\w*|vakantie|collega's|nieuwe baan"
    r"|przeprowadz\w*|wyjazd\w*|wakacje|halloween"
    r"|переезд\w*|переезжаю|отпуск|коллег\w*|вечеринк\w*|переїзд\w*|вечірк\w*|колег\w*"
    r"|tasin\w*|tatil|havaalani|yeni is"
    r"|pindah|liburan|bandara|kantor baru|lipat|bakasyon"
    r"|μετακομ\w*|ταξιδ\w*|المطار|أسافر|سفر|shift|naukri|canada|dubai|hamburg|london|londra|kazan)(?!\w)"
    r"|搬家|旅行|出差|机场|機場|送別会|引っ越|退職|転勤|이사|여행|퇴사|공항|ลาออก|ย้าย|เที่ยว|जा रहा|शिफ्ट")


def is_ordinary_departure(text: str, match: Match) -> bool:
    """Check whether a farewell, "I won't be here" or "forever" is in a sentence about a move, a trip, a job or a party."""
    return _DEPARTURE.search(text, *_sentence_bounds(text, match.start, match.end)) is not None
