"""Crisis phrases in languages other than English, for the SEDA safety net.

The rules read English only. For text in another language (and for foreign phrases
inside English text) the safety net looks for a short list of first-person phrases
per language, grouped by what they say:

    active    I want to die, kill myself, end my life, think of suicide (critical alone)
    passive   a wish not to wake up or to disappear, a life not worth living
    gone      I won't be here, soon I'll be gone, nobody will have to worry about me
    topic     the word suicide, which a news item or a film may use too
    intent    "I'm going to do it", which says nothing without a means or a plan
    farewell  farewell letters, goodbye to everyone, pets and belongings given away, but
              not a plain "goodbye" or "sorry", which everyday text is full of
    final     decided, everything is ready, forever, the date is set
    means     pills, a bridge, a rope, a weapon, a train, a roof, jumping
    timing    tonight, tomorrow, this weekend, a weekday
    retract   "I won't do anything", said after a wish to be dead

How the kinds combine into a band is in ``services/seda/scorer.py`` (``_foreign_floor``).

Phrases are written in their usual spelling and folded with ``scorer_text.fold`` when
this module loads, so they match the folded text whatever its accents or case. They are
folded without turning look-alike letters into Latin ones, because a Russian or Greek
text keeps its own letters when it is folded. A
trailing ``*`` on a word matches any ending, for inflected languages ("zabić*" also
matches "zabiję"). Scripts written with spaces between words match whole words only.
Chinese, Japanese and Thai match anywhere. Korean matches anywhere too, because its
particles attach to the word.

Each language has its own negators: one of the two words before an active, passive or
gone phrase cancels it ("no quiero morir"). In Chinese and Thai a negator in the two
characters before the phrase cancels it ("不想死"). Japanese and Korean negate after the
verb ("死にたくない", "죽고 싶지 않아"), so their phrases end before that point or spell
out the affirmative ending.

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
                   "me voy a quitar la vida"],
        "passive": ["dormirme y no despertar", "no despertar nunca", "desaparecer para siempre",
                    "estarían mejor sin mí", "estaría mejor muert*", "ojalá no despertara", "acabar con todo",
                    "no vale la pena vivir", "cansad* de vivir", "hacerme daño", "cortarme"],
        "gone": ["ya no estaré", "no estaré aquí", "pronto no estaré", "no me van a volver a ver",
                 "nadie tendrá que preocuparse por mí", "ya no seré una carga"],
        "topic": ["suicidio", "suicidarse"],
        "farewell": ["carta de despedida", "cartas de despedida", "les dejé cartas", "le dejé una carta",
                     "me despedí de todos", "regalé mis cosas", "regalé mi perro", "regalé mi gato",
                     "le dejé el perro", "le dejé el gato", "le di mi perro", "le di mi gato", "perdónenme",
                     "mi testamento"],
        "final": ["ya lo decidí", "lo he decidido", "ya está decidido", "todo planeado", "ya está todo listo",
                  "todo está listo", "para siempre", "es la última vez", "ya tengo la fecha", "ya tengo todo"],
        "means": ["pastillas", "el puente", "del puente", "una cuerda", "la cuerda", "pistola", "el arma",
                  "las vías", "el tren", "la azotea", "cuchilla", "veneno", "insulina", "tirarme", "saltar"],
        "timing": ["esta noche", "hoy", "mañana", "este fin de semana", "el viernes", "el sábado", "el domingo",
                   "el lunes", "esta semana", "antes de navidad"],
        "retract": ["no voy a hacer nada", "no haría nada", "nunca lo haría", "no lo haría"],
        "intent": ["lo voy a hacer", "voy a hacerlo", "lo haré"],
        "negators": ["no", "nunca", "jamás", "ni"],
    },
    "pt": {
        "active": ["quero morrer", "vou me matar", "quero me matar", "me matar", "vou me suicidar",
                   "penso em me suicidar", "tirar minha vida", "tirar a minha vida", "acabar com a minha vida",
                   "acabar com minha vida", "não quero mais viver", "não quero viver", "eu acabo com tudo",
                   "vou acabar com tudo", "matar-me", "suicidar-me"],
        "passive": ["dormir e não acordar", "nunca mais acordar", "desaparecer para sempre",
                    "estariam melhor sem mim", "cansad* de viver", "acabar com tudo", "me cortar"],
        "gone": ["já não estarei cá", "não estarei aqui", "não vou estar aqui", "em breve não estarei",
                 "ninguém vai ter que se preocupar comigo", "já não estarei"],
        "topic": ["suicídio"],
        "farewell": ["carta de despedida", "cartas de despedida", "me despedi de todos", "dei as minhas coisas",
                     "dei minhas coisas", "dei o meu cachorro", "dei o meu gato", "me perdoem",
                     "só queria dizer adeus", "adeus a todos"],
        "final": ["já decidi", "está decidido", "tudo planejado", "tudo pronto", "para sempre", "última vez",
                  "já escolhi o dia", "separei os comprimidos", "guardando os comprimidos"],
        "means": ["comprimidos", "remédios", "pílulas", "a ponte", "da ponte", "corda", "arma", "o trem",
                  "os trilhos", "telhado", "lâmina", "veneno", "insulina", "pular", "me jogar"],
        "timing": ["hoje à noite", "esta noite", "hoje", "amanhã", "este fim de semana", "sexta-feira", "sábado",
                   "domingo", "esta semana"],
        "retract": ["não vou fazer nada", "não faria nada", "nunca faria isso"],
        "intent": ["vou fazer isso", "vou fazer isto", "eu vou fazer"],
        "negators": ["não", "nunca", "jamais", "nem"],
    },
    "fr": {
        "active": ["je veux mourir", "envie de mourir", "me tuer", "je vais me tuer", "me suicider",
                   "je pense au suicide", "mettre fin à mes jours", "mettre fin à ma vie", "envie d'en finir",
                   "décidé d'en finir", "je vais en finir", "je ne veux plus vivre", "m'ôter la vie"],
        "passive": ["m'endormir et ne jamais me réveiller", "ne plus me réveiller", "disparaître pour toujours",
                    "seraient mieux sans moi", "fatigué* de vivre", "marre de vivre", "me faire du mal",
                    "me couper"],
        "gone": ["je ne serai plus là", "bientôt je ne serai plus", "personne ne me regrettera",
                 "plus personne n'aura à s'inquiéter", "je ne reviendrai pas"],
        "topic": ["suicide"],
        "farewell": ["lettre d'adieu", "lettres d'adieu", "j'ai dit adieu", "adieu à tous", "donné mon chat",
                     "donné mon chien", "donné mes affaires", "mon testament"],
        "final": ["j'ai décidé", "c'est décidé", "tout est prêt", "pour toujours", "la dernière fois",
                  "j'ai choisi la date"],
        "means": ["cachets", "médicaments", "comprimés", "le pont", "du pont", "une corde", "la corde", "fusil",
                  "les rails", "le toit", "rasoir", "poison", "insuline", "sauter", "je saute"],
        "timing": ["ce soir", "cette nuit", "demain", "aujourd'hui", "ce week-end", "ce weekend", "vendredi",
                   "samedi", "dimanche", "demain matin"],
        "retract": ["je ne ferais rien", "je ne vais rien faire", "je ne ferai rien", "jamais je ne ferais"],
        "intent": ["je vais le faire", "je le ferai", "je vais passer à l'acte"],
        "negators": ["ne", "pas", "jamais", "non"],
    },
    "de": {
        "active": ["ich will sterben", "will sterben", "möchte sterben", "bringe mich um", "mich umbringen",
                   "mich töten", "mich zu töten", "bringe ich mich um", "mir das leben nehmen",
                   "meinem leben ein ende", "will nicht mehr leben", "möchte nicht mehr leben",
                   "will nicht mehr da sein"],
        "passive": ["einschlafen und nicht mehr aufwachen", "nie mehr aufwachen", "für immer verschwinden",
                    "besser dran ohne mich", "lebensmüde", "mich ritzen"],
        "gone": ["werde nicht mehr lange da sein", "bin ich nicht mehr da", "bald bin ich weg",
                 "niemand muss sich mehr sorgen"],
        "topic": ["suizid", "selbstmord"],
        "farewell": ["abschiedsbrief*", "von allen verabschiedet", "meine katze der nachbarin",
                     "meinen hund der nachbarin", "alles geregelt", "verzeiht mir", "mein testament"],
        "final": ["ich habe mich entschieden", "alles ist klar", "alles ist bereit", "ist es so weit",
                  "ist es soweit", "für immer", "das letzte mal", "liegen schon bereit"],
        "means": ["tabletten", "pillen", "die brücke", "von der brücke", "ein seil", "strick", "waffe",
                  "vor den zug", "die gleise", "vom dach", "klinge", "gift", "insulin", "springen"],
        "timing": ["heute nacht", "heute abend", "heute", "morgen", "am wochenende", "am samstag", "am sonntag",
                   "am freitag", "diese woche"],
        "retract": ["ich werde nichts tun", "ich würde nichts tun", "ich würde das nie tun", "ich tue mir nichts an"],
        "intent": ["ich werde es tun", "ich tue es", "ich mache es", "werde ich es tun"],
        "negators": ["nicht", "nie", "niemals", "kein", "keine"],
    },
    "it": {
        "active": ["voglio morire", "uccidermi", "mi uccido", "ammazzarmi", "mi ammazzo", "suicidarmi",
                   "penso al suicidio", "togliermi la vita", "farla finita", "non voglio più vivere",
                   "buttarmi dal ponte", "buttarmi sotto"],
        "passive": ["addormentarmi e non svegliarmi", "non svegliarmi più", "sparire per sempre",
                    "starebbero meglio senza di me", "stanc* di vivere", "farmi del male", "tagliarmi"],
        "gone": ["non ci sarò", "presto non ci sarò", "nessuno dovrà preoccuparsi"],
        "topic": ["suicidio"],
        "farewell": ["lettera d'addio", "lettere d'addio", "ho scritto le lettere", "scritto le lettere", "scritto una lettera", "ho salutato tutti",
                     "regalato le mie cose", "regalato il mio cane", "regalato il mio gatto", "perdonatemi",
                     "il mio testamento"],
        "final": ["ho deciso", "è deciso", "tutto pronto", "per sempre", "l'ultima volta"],
        "means": ["pillole", "pastiglie", "farmaci", "il ponte", "dal ponte", "una corda", "pistola",
                  "i binari", "il tetto", "lametta", "veleno", "insulina", "buttarmi"],
        "timing": ["stasera", "stanotte", "oggi", "domani", "questo fine settimana", "domenica", "sabato",
                   "venerdì"],
        "retract": ["non farò niente", "non farei niente", "non lo farei mai"],
        "intent": ["lo farò", "lo faccio"],
        "negators": ["non", "mai", "né"],
    },
    "nl": {
        "active": ["ik wil dood", "wil dood", "mezelf van kant maken", "mezelf doden", "er een einde aan maken",
                   "een einde aan mijn leven", "ik wil niet meer leven", "wil niet meer leven"],
        "passive": ["niet meer wakker worden", "voor altijd verdwijnen", "beter af zonder mij", "moe van het leven",
                    "het zat om hier te zijn", "mezelf pijn doen"],
        "gone": ["ben ik er niet meer", "hoeft niemand zich meer zorgen", "ik ben er niet meer"],
        "topic": ["zelfmoord"],
        "farewell": ["afscheidsbrie*", "mijn hond naar mijn zus", "mijn kat naar mijn zus", "vergeef me"],
        "final": ["alles is klaar", "ik heb besloten", "is het zover", "voor altijd", "de laatste keer"],
        "means": ["pillen", "de brug", "een touw", "wapen", "de trein", "het spoor", "het dak", "mesje", "gif",
                  "springen"],
        "timing": ["vanavond", "vannacht", "vandaag", "morgen", "dit weekend", "zaterdag", "zondag", "vrijdag"],
        "retract": ["ik ga niets doen", "ik zou niets doen", "ik zou het nooit doen"],
        "intent": ["ik ga het doen", "ik doe het"],
        "negators": ["niet", "nooit", "geen"],
    },
    "pl": {
        "active": ["chcę umrzeć", "chcę się zabić", "zabić się", "zabiję się", "popełnić samobójstwo",
                   "odebrać sobie życie", "skończyć ze sobą", "nie chcę już żyć", "nie chcę żyć"],
        "passive": ["zasnąć i się nie obudzić", "zniknąć na zawsze", "lepiej beze mnie", "zmęczon* życiem",
                    "okaleczać się", "ciąć się"],
        "gone": ["niedługo mnie nie będzie", "mnie nie będzie", "nikt nie będzie musiał się martwić"],
        "topic": ["samobójstw*"],
        "farewell": ["listy pożegnalne", "list pożegnalny", "pożegnałam się ze wszystkimi",
                     "pożegnałem się ze wszystkimi", "oddałam kota", "oddałem kota", "oddałam psa", "oddałem psa",
                     "rozdałam wszystkie", "rozdałem wszystkie", "wybaczcie mi", "spłaciłem wszystkie długi",
                     "spłaciłam wszystkie długi"],
        "final": ["zdecydowałam", "zdecydowałem", "wszystko gotowe", "na zawsze", "ostatni raz"],
        "means": ["tabletki", "tabletek", "z mostu", "sznur", "broń", "pod pociąg", "tory", "z dachu", "żyletk*",
                  "trucizn*", "skoczyć"],
        "timing": ["dziś w nocy", "dzisiaj", "dziś", "jutro", "w sobotę", "w niedzielę", "w piątek",
                   "w ten weekend"],
        "retract": ["nic nie zrobię", "nigdy bym tego nie zrobił*"],
        "intent": ["zrobię to", "to zrobię"],
        "negators": ["nie", "nigdy"],
    },
    "ru": {
        "active": ["хочу умереть", "покончить с собой", "убить себя", "убью себя", "покончу с собой",
                   "не хочу жить", "больше не хочу жить", "лишить себя жизни", "уйти из жизни"],
        "passive": ["уснуть и не проснуться", "исчезнуть навсегда", "лучше без меня", "устал* жить",
                    "резать себя", "порезать себя"],
        "gone": ["скоро меня не будет", "меня не будет", "никому не придётся"],
        "topic": ["суицид*", "самоубийств*"],
        "farewell": ["прощальн*", "письмо маме", "письма родным", "раздал* все", "раздал* свои вещи",
                     "отдал* кошку", "отдал* собаку", "простите меня", "завещание"],
        "final": ["я решил*", "всё готово", "все готово", "навсегда", "в последний раз"],
        "means": ["таблетки", "таблеток", "с моста", "верёвк*", "веревк*", "пистолет", "ружьё", "под поезд",
                  "рельсы", "с крыши", "лезвие", "яд", "инсулин", "прыгнуть"],
        "timing": ["сегодня ночью", "сегодня", "завтра", "в эти выходные", "на выходных", "в субботу",
                   "в пятницу", "в воскресенье"],
        "retract": ["ничего не сделаю", "я ничего с собой не сделаю", "никогда этого не сделаю"],
        "intent": ["я сделаю это", "сделаю это"],
        "negators": ["не", "нет", "никогда"],
    },
    "uk": {
        "active": ["хочу померти", "покінчити з собою", "вбити себе", "не хочу жити", "більше не хочу жити"],
        "passive": ["заснути і не прокинутися", "зникнути назавжди", "краще без мене"],
        "gone": ["скоро мене не буде", "мене не буде"],
        "topic": ["самогубств*"],
        "farewell": ["прощальн*", "роздав* все", "віддав* кота", "віддав* собаку", "пробачте мені"],
        "final": ["я вирішив*", "все готово", "назавжди", "востаннє"],
        "means": ["таблетки", "з мосту", "мотузк*", "під потяг", "з даху"],
        "timing": ["сьогодні вночі", "сьогодні", "завтра", "цими вихідними", "в суботу"],
        "retract": ["нічого не зроблю"],
        "intent": ["я зроблю це"],
        "negators": ["не", "ні", "ніколи"],
    },
    "tr": {
        "active": ["ölmek istiyorum", "kendimi öldür*", "intihar edeceğim", "intihar etmek istiyorum",
                   "intihar etmeyi düşünüyorum", "canıma kıy*", "hayatıma son ver*", "yaşamak istemiyorum",
                   "bu gece bitireceğim"],
        "passive": ["uyuyup uyanmamak", "sonsuza dek kaybolmak", "bensiz daha iyi", "yaşamaktan yoruldum",
                    "kendime zarar"],
        "gone": ["burada olmayacağım", "yakında olmayacağım", "artık olmayacağım"],
        "topic": ["intihar"],
        "farewell": ["veda mektubu", "herkesle vedalaştım", "eşyalarımı dağıttım", "kedimi verdim",
                     "köpeğimi verdim", "beni affedin", "herkese veda"],
        "final": ["karar verdim", "her şey hazır", "sonsuza dek", "son kez", "bir plan da yaptım", "plan yaptım"],
        "means": ["hapları", "köprüden", "silah", "trenin önüne", "çatıdan", "jilet", "zehir", "atlayacağım"],
        "timing": ["bu gece", "bugün", "yarın", "bu hafta sonu", "cumartesi", "pazar", "cuma"],
        "retract": ["bir şey yapmayacağım", "asla yapmam"],
        "intent": ["yapacağım"],
        "negators": ["değil", "asla", "hiç"],
    },
    "el": {
        "active": ["θέλω να πεθάνω", "να σκοτωθώ", "να αυτοκτονήσω", "δεν θέλω να ζω", "δεν θέλω να ζήσω",
                   "να τελειώσω τη ζωή μου"],
        "passive": ["να κοιμηθώ και να μην ξυπνήσω", "να εξαφανιστώ για πάντα", "καλύτερα χωρίς εμένα"],
        "gone": ["δεν θα είμαι εδώ", "σύντομα δεν θα υπάρχω"],
        "topic": ["αυτοκτονί*"],
        "farewell": ["γράμμα αποχαιρετισμού", "αποχαιρέτησα όλους", "συγχωρέστε με"],
        "final": ["αποφάσισα", "πήρα την απόφασή μου", "όλα είναι έτοιμα", "για πάντα", "τελευταία φορά"],
        "means": ["χάπια", "γέφυρα", "σκοινί", "όπλο", "ταράτσα", "ξυράφι", "δηλητήριο"],
        "timing": ["απόψε", "σήμερα", "αύριο", "αυτό το σαββατοκύριακο", "το σάββατο"],
        "retract": ["δεν θα κάνω τίποτα"],
        "negators": ["δεν", "μην", "ποτέ", "όχι"],
    },
    "ar": {
        "active": ["أريد أن أموت", "أقتل نفسي", "أنتحر", "أنهي حياتي", "لا أريد أن أعيش", "سأنهي حياتي"],
        "passive": ["أنام ولا أستيقظ", "أختفي للأبد", "أفضل بدوني", "تعبت من الحياة", "أؤذي نفسي"],
        "gone": ["لن أكون هنا", "لن تروني", "قريبا لن أكون"],
        "topic": ["الانتحار", "انتحار"],
        "farewell": ["رسالة وداع", "رسالة لأمي", "ودعت الجميع", "سامحوني", "أعطيت أغراضي", "وصيتي"],
        "final": ["قررت", "كل شيء جاهز", "للأبد", "آخر مرة"],
        "means": ["حبوب", "الحبوب", "الجسر", "حبل", "مسدس", "القطار", "السطح", "شفرة", "سم"],
        "timing": ["الليلة", "اليوم", "غدا", "نهاية الأسبوع", "يوم الجمعة", "الجمعة", "السبت"],
        "retract": ["لن أفعل شيئا"],
        "negators": ["لا", "لن", "لم", "ليس"],
    },
    "he": {
        "active": ["רוצה למות", "להתאבד", "אתאבד", "להרוג את עצמי", "לשים קץ לחיים", "לא רוצה לחיות"],
        "passive": ["להירדם ולא להתעורר", "להיעלם לתמיד", "טוב יותר בלעדיי"],
        "gone": ["לא אהיה כאן", "בקרוב לא אהיה"],
        "topic": ["התאבדות"],
        "farewell": ["מכתב פרידה", "נפרדתי מכולם", "סלחו לי"],
        "final": ["החלטתי", "הכול מוכן", "הכל מוכן", "לתמיד", "פעם אחרונה"],
        "means": ["כדורים", "גשר", "חבל", "אקדח", "רכבת", "גג"],
        "timing": ["הלילה", "היום", "מחר", "בסוף השבוע", "בשבת"],
        "retract": ["לא אעשה כלום"],
        "negators": ["לא", "אל"],
    },
    "hi": {
        "active": ["मरना चाहता", "मरना चाहती", "खुद को मार", "आत्महत्या कर", "खुदकुशी कर", "खुद को खत्म",
                   "जीना नहीं चाहता", "जीना नहीं चाहती", "जान दे दूँ", "जान दे दूंगा", "जान दे दूंगी"],
        "passive": ["सो जाऊँ और न उठूँ", "गायब हो जाऊँ", "मेरे बिना बेहतर"],
        "gone": ["मैं नहीं रहूँगा", "मैं नहीं रहूँगी", "नहीं रहूंगा", "नहीं रहूंगी"],
        "topic": ["आत्महत्या", "खुदकुशी"],
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
                   "khudkushi kar", "aatmahatya kar", "jeena nahi chahta", "jeena nahi chahti",
                   "jina nahi chahta", "jina nahi chahti", "jaan de dunga", "jaan de dungi",
                   "sab khatam karne", "khud ko khatam"],
        "passive": ["gayab ho jaun", "mere bina behtar"],
        "gone": ["main nahi rahunga", "main nahi rahungi", "nahi rahunga", "nahi rahungi"],
        "topic": ["khudkushi", "aatmahatya"],
        "farewell": ["saari cheezein", "sari cheezein", "sabko alvida"],
        "final": ["plan bana liya", "decide kar liya", "faisla kar liya", "tay kar liya", "sab tayyar", "hamesha ke liye",
                  "aakhri baar", "aakhri din"],
        "means": ["goliyan", "goliyaan", "rassi", "bandook", "train ke aage", "zeher", "zehar"],
        "timing": ["aaj raat", "kal raat", "is hafte"],
        "retract": ["kuch nahi karunga", "kuch nahi karungi"],
        "intent": ["kar dunga", "kar dungi", "kar lunga", "kar lungi"],
        "negators": ["nahi", "nahin", "mat"],
    },
    "id": {
        "active": ["ingin mati", "mau mati", "ingin bunuh diri", "mau bunuh diri", "akan bunuh diri",
                   "untuk bunuh diri", "mengakhiri hidup*", "membunuh diriku", "tidak mau hidup lagi",
                   "tidak ingin hidup lagi", "gak mau hidup lagi", "nggak mau hidup lagi"],
        "passive": ["tidur dan tidak bangun", "menghilang selamanya", "lebih baik tanpa aku", "lelah hidup",
                    "menyakiti diri"],
        "gone": ["aku tidak akan ada", "tidak akan ada lagi", "sebentar lagi aku pergi"],
        "topic": ["bunuh diri"],
        "farewell": ["surat perpisahan", "surat untuk ibu", "terima kasih untuk semuanya", "barang-barangku"],
        "final": ["sudah memutuskan", "sudah kuputuskan", "semua sudah siap", "selamanya", "terakhir kali"],
        "means": ["pil", "obat", "jembatan", "tali", "pistol", "kereta", "atap", "silet", "racun", "melompat"],
        "timing": ["malam ini", "hari ini", "besok", "minggu ini", "akhir pekan ini"],
        "retract": ["tidak akan melakukan apa-apa", "aku tidak akan melakukannya"],
        "intent": ["aku akan melakukannya", "akan kulakukan"],
        "negators": ["tidak", "tak", "gak", "nggak", "bukan", "jangan"],
    },
    "tl": {
        "active": ["gusto ko nang mamatay", "gusto kong mamatay", "magpapakamatay", "magpakamatay",
                   "patayin ang sarili", "tapusin ang buhay ko", "ayoko nang mabuhay"],
        "passive": ["matulog at hindi na magising", "mas mabuti kung wala ako", "pagod na akong mabuhay"],
        "gone": ["wala na ako bukas", "hindi na ako magtatagal", "mawawala na ako"],
        "topic": ["pagpapakamatay"],
        "farewell": ["ibinigay ko na ang mga gamit ko", "sinulatan ko na", "patawarin niyo ako"],
        "final": ["desidido na ako", "nakapagpasya na ako", "handa na ang lahat", "huling beses"],
        "means": ["gamot", "tulay", "lubid", "baril", "bubong", "lason", "tatalon"],
        "timing": ["mamayang gabi", "ngayong gabi", "ngayon", "bukas"],
        "retract": ["hindi ko gagawin"],
        "intent": ["gagawin ko na"],
        "negators": ["hindi", "huwag", "wag"],
    },
    "sw": {
        "active": ["nataka kufa", "kujiua", "nitajiua", "kujitoa uhai", "sitaki kuishi", "nimechoka kuishi"],
        "passive": ["kulala na nisiamke", "kutoweka milele", "bora bila mimi"],
        "gone": ["sitakuwepo", "hivi karibuni sitakuwepo"],
        "topic": [],
        "farewell": ["barua kwa mama", "barua ya kuaga", "nisameheni"],
        "final": ["nimeamua", "kila kitu tayari", "milele", "mara ya mwisho"],
        "means": ["vidonge", "daraja", "kamba", "bunduki", "treni", "sumu"],
        "timing": ["usiku wa leo", "leo usiku", "leo", "kesho usiku", "kesho", "wikendi hii"],
        "retract": ["sitafanya chochote"],
        "negators": ["si", "sio", "hapana"],
    },
    "vi": {
        "active": ["muốn chết", "muốn tự tử", "sẽ tự tử", "muốn tự sát", "giết bản thân", "kết thúc cuộc đời",
                   "không muốn sống nữa"],
        "passive": ["ngủ và không tỉnh dậy", "biến mất mãi mãi", "tốt hơn khi không có tôi"],
        "gone": ["tôi sẽ không còn ở đây", "sẽ không còn nữa"],
        "topic": ["tự tử", "tự sát"],
        "farewell": ["thư tuyệt mệnh", "thư từ biệt", "vĩnh biệt mọi người"],
        "final": ["tôi đã quyết định", "mọi thứ đã sẵn sàng", "mãi mãi", "lần cuối"],
        "means": ["thuốc ngủ", "cây cầu", "dây thừng", "súng", "mái nhà", "lưỡi dao"],
        "timing": ["tối nay", "đêm nay", "hôm nay", "ngày mai", "cuối tuần này"],
        "retract": ["tôi sẽ không làm gì"],
        "negators": ["không", "chưa", "đừng"],
    },
    "zh": {
        "active": ["我想死", "想死了", "我要自杀", "想自杀", "想自殺", "我要自殺", "结束自己的生命", "結束自己的生命",
                   "结束我的生命", "不想活了", "活不下去", "了结自己", "了結自己"],
        "passive": ["睡着了就不要醒来", "永远消失", "永遠消失", "没有我会更好", "沒有我會更好", "活着好累", "伤害自己",
                    "傷害自己", "割腕", "结束这一切", "結束這一切"],
        "gone": ["我就不在了", "不会再在这里", "不會再在這裡", "周末就走", "週末就走"],
        "topic": ["自杀", "自殺", "轻生", "輕生"],
        "farewell": ["遗书", "遺書", "告别信", "告別信", "把狗送给", "把猫送给", "把狗送給", "把貓送給"],
        "final": ["已经决定", "已經決定", "决定了", "決定了", "都准备好", "都準備好", "日子都选好", "日子都選好", "永远",
                  "永遠", "最后一次", "最後一次"],
        "means": ["安眠药", "安眠藥", "药片", "藥片", "桥上", "橋上", "绳子", "繩子", "枪", "槍", "卧轨", "臥軌", "楼顶",
                  "樓頂", "跳楼", "跳樓", "刀片", "毒药", "毒藥"],
        "timing": ["今晚", "今天晚上", "今天", "明天", "明天晚上", "这个周末", "這個週末", "周末", "週末"],
        "retract": ["我不会做傻事", "我不會做傻事"],
        "negators": ["不", "没", "沒", "别", "別"],
    },
    "ja": {
        "active": ["死にたい", "死のうと思", "自殺したい", "自殺する", "命を絶", "生きていたくない", "死のう"],
        "passive": ["眠ったまま目が覚めなければ", "いなくなりたい", "消えたい", "いない方がいい", "生きるのに疲れた",
                    "自分を傷つけ"],
        "gone": ["もういなくなる", "もうここにはいない"],
        "topic": ["自殺", "自死"],
        "farewell": ["遺書", "友達に預けた", "お別れの手紙"],
        "final": ["もう決めた", "準備はできている", "準備ができた", "永遠に"],
        "means": ["睡眠薬", "あの橋", "ロープ", "線路", "屋上", "飛び降り", "カミソリ"],
        "timing": ["今夜", "今日", "明日", "今週末", "週末"],
        "retract": ["何もしない"],
        "negators": [],
    },
    "ko": {
        "active": ["죽고 싶어", "죽고 싶다", "죽고싶어", "죽고싶다", "자살하고 싶", "자살할 거", "목숨을 끊",
                   "내 삶을 끝내", "살고 싶지 않아", "살고 싶지 않다", "더 이상 살고 싶지", "오늘 밤에 끝낼"],
        "passive": ["잠들어서 깨지 않", "영원히 사라지고", "나 없는 게 나아", "사는 게 지쳐"],
        "gone": ["더 이상 여기 없을", "곧 없을 거야"],
        "topic": ["자살"],
        "farewell": ["유서", "엄마한테 편지 썼어", "다 정리했어"],
        "final": ["결심했어", "결정했어", "다 준비됐어", "영원히", "마지막으로"],
        "means": ["수면제", "다리에서", "밧줄", "옥상"],
        "timing": ["오늘 밤", "오늘밤", "오늘", "내일", "이번 주말"],
        "retract": ["아무것도 안 할"],
        "negators": [],
    },
    "th": {
        "active": ["อยากตาย", "อยากฆ่าตัวตาย", "จบชีวิต", "ไม่อยากมีชีวิตอยู่"],
        "passive": ["หลับแล้วไม่ตื่น", "หายไปตลอดกาล"],
        "gone": ["จะไม่อยู่แล้ว"],
        "topic": ["ฆ่าตัวตาย"],
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
    words: tuple[str, ...]  # folded
    stems: tuple[bool, ...]  # whether each word matches any word that starts with it


@dataclasses.dataclass(frozen=True)
class Match:
    kind: str
    start: int  # offsets into the folded text, end exclusive
    end: int


# A word of folded text: letters, digits and inner apostrophes ("d'en", "aujourd'hui").
_WORD = re.compile(r"\w+(?:'\w+)*")
# Letters of the scripts whose phrases match anywhere (Thai, kana, CJK ideographs, Hangul).
# Folding decomposes Hangul syllables into conjoining jamo (U+1100..U+11FF).
_UNSPACED_SCRIPT = re.compile(r"[\u0e00-\u0e7f\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]")


class Lexicon:
    """The folded phrases, indexed for a scan that costs one dictionary lookup per word.

    Phrases of spaced scripts are matched word by word: a candidate list per first word
    (and a short list of phrases that start with a stem), then the following words.
    Phrases of unspaced scripts are found with ``str.find``, only in text that has a
    letter of those scripts.
    """

    def __init__(self) -> None:
        self.by_first_word: dict[str, list[_Phrase]] = {}
        self.stem_first: list[_Phrase] = []
        self.unspaced: list[tuple[str, str]] = []  # (kind, folded phrase)
        self.spaced_negators: set[str] = set()
        self.unspaced_negators: set[str] = set()
        for language, kinds in _LEXICON.items():
            unspaced = language in _UNSPACED
            negators = {_fold(word) for word in kinds["negators"]}
            (self.unspaced_negators if unspaced else self.spaced_negators).update(negators)
            for kind in KINDS:
                for phrase in kinds.get(kind, []):
                    self._add(kind, phrase, unspaced)

    def _add(self, kind: str, phrase: str, unspaced: bool) -> None:
        if unspaced:
            self.unspaced.append((kind, _fold(phrase)))
            return
        words, stems = [], []
        for word in phrase.split():
            folded = _fold(word.rstrip("*"))
            # Folding can split a word ("week-end" keeps one word, "l'ultima" too).
            parts = _WORD.findall(folded)
            words += parts
            stems += [False] * (len(parts) - 1) + [word.endswith("*")]
        entry = _Phrase(kind, tuple(words), tuple(stems))
        if stems[0]:
            self.stem_first.append(entry)
        else:
            self.by_first_word.setdefault(words[0], []).append(entry)

    def find(self, text: str, limit: int) -> list[Match]:
        """Return the phrases in folded ``text``, at most ``limit`` of each kind, in text order per kind."""
        found: list[Match] = []
        counts = dict.fromkeys(KINDS, 0)
        words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(text)]
        for index, (word, start, _) in enumerate(words):
            candidates = self.by_first_word.get(word, [])
            if self.stem_first:
                candidates = candidates + [p for p in self.stem_first if word.startswith(p.words[0])]
            for phrase in candidates:
                last = index + len(phrase.words) - 1
                if last >= len(words) or counts[phrase.kind] >= limit:
                    continue
                if all(_word_matches(words[index + k][0], phrase.words[k], phrase.stems[k])
                       for k in range(1, len(phrase.words))):
                    found.append(Match(phrase.kind, start, words[last][2]))
                    counts[phrase.kind] += 1

        if _UNSPACED_SCRIPT.search(text):
            for kind, phrase in self.unspaced:
                position = text.find(phrase)
                while position != -1 and counts[kind] < limit:
                    found.append(Match(kind, position, position + len(phrase)))
                    counts[kind] += 1
                    position = text.find(phrase, position + len(phrase))
        return found

    def is_negated(self, text: str, start: int) -> bool:
        """Whether a negator stands in the two words (for unspaced scripts, two characters) before ``start``."""
        before = text[max(0, start - 40):start]
        if any(negator in before[-2:] for negator in self.unspaced_negators):
            return True
        clause = re.split(r"[,;:.!?]", before)[-1]
        return any(word in self.spaced_negators for word in _WORD.findall(clause)[-2:])


def _fold(phrase: str) -> str:
    return fold(phrase, map_lookalikes=False).text


def _word_matches(word: str, expected: str, stem: bool) -> bool:
    return word.startswith(expected) if stem else word == expected


LEXICON = Lexicon()


# "Acabar con todo el trabajo" ends the work, not a life: an article or a possessive after
# "todo" or "tudo" makes the phrase literal.
_ALL_WITH_OBJECT = re.compile(r"(?:todo|tudo)\s+(?:el|la|los|las|lo|este|esta|estos|estas|ese|esa|eso|mi|mis|tu"
                              r"|o|a|os|as|isso|esse|essa|meu|minha|meus|minhas|de|do|da)(?!\w)")
# "Me quiero morir de la vergüenza": dying of shame, laughter or hunger is a figure of speech.
_OF_A_FEELING = re.compile(
    r"\s+(?:de|d'|di|vor|van|z)\s*(?:la\s+|el\s+|los\s+)?(?:verguenza|vergonha|honte|vergogna|scham|schaamte"
    r"|risa|rir|rire|ridere|lachen|hambre|fome|faim|fame|hunger|honger|sueno|sono|sommeil|calor|chaleur|caldo"
    r"|hitze|frio|froid|freddo|kalte|envidia|inveja|ganas|amor|amour|amore|curiosidad|curiosidade|curiosite"
    r"|curiosita|neugier|aburrimiento|tedio|ennui|noia|langeweile|stresu|wstydu|smiechu)(?!\w)")
# Laughter after a phrase in the same sentence marks it as a joke ("me quiero matar jajaja").
_LAUGHTER = re.compile(r"(?<!\w)(?:(?:ja|je|ha|he|ka|wk|rs)(?:ja|je|ha|he|ka|wk|rs)+\w*|k{3,}|mdr|ptdr|lol|lmao"
                       r"|5{3,}|w{3,})(?!\w)|哈哈|ｗｗ|\u110f\u110f")
# "No quiero vivir en esta casa": a "live" followed by where, with whom or how is about a home.
_LIVE_VERBS = ("vivir", "viver", "vivre", "leben", "vivere", "leven", "zyc", "жить", "жити", "yasamak", "hidup")
_WHERE_OR_HOW = re.compile(r"\s+(?:en|con|aqui|asi|em|com|assim|dans|ici|avec|comme|ca|in|hier|mit|so|bei|a|qui"
                           r"|cosi|op|met|zo|w|z|tak|tu|в|с|здесь|так|тут|у|з|burada|boyle|di|dengan|sini|begini)(?!\w)")
_SENTENCE_END = re.compile(r"[.!?\n\u3002]")


def is_figurative(text: str, start: int, end: int) -> bool:
    """Whether the words around a phrase make it literal or a joke, not a crisis.

    Four cases: "acabar con todo" that goes on to name what is ended ("todo el
    trabajo"), dying of a feeling ("morir de la vergüenza"), not wanting to live
    somewhere or somehow ("no quiero vivir en esta casa"), and laughter later in the
    same sentence ("me quiero matar jajaja").
    """
    if _ALL_WITH_OBJECT.match(text, max(start, end - 4)):
        return True
    if _OF_A_FEELING.match(text, end):
        return True
    if text[start:end].endswith(_LIVE_VERBS) and _WHERE_OR_HOW.match(text, end):
        return True
    sentence_end = _SENTENCE_END.search(text, end)
    return _LAUGHTER.search(text, end, sentence_end.end() if sentence_end else len(text)) is not None
