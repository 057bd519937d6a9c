"""Rule tables of the SEDA scorer: the phrases that raise a signal and the idioms that cancel one.

Every pattern runs on folded text (see scorer_text): lowercase, no accents, straight
apostrophes, single spaces, leetspeak mapped to letters. A space in a pattern
matches one whitespace character. ``<NAME>`` inserts a shared fragment from
``_FRAGMENTS``. Every quantifier is bounded or applies to a single character class,
so each pattern runs in linear time on any input.

Severity is an index into SEVERITIES. Category names are the public ones of
scorer.CATEGORIES.
"""

from __future__ import annotations

import dataclasses
import re

SEVERITIES = ("low", "moderate", "high", "severe")
LOW, MODERATE, HIGH, SEVERE = range(4)

# Words that negate a following verb; fillers must not skip over them.
_NEGATORS = (r"not|never|no|don't|dont|won't|wont|wouldn't|wouldnt|didn't|didnt|isn't|isnt|wasn't|wasnt|"
             r"can't|cant|cannot|nobody|nothing|nor")

_FRAGMENTS = {
    # Zero to two (or three) filler words that are not negators: "really", "just", "kind of".
    "F2": rf"(?:(?!(?:{_NEGATORS})(?![a-z']))[a-z']+ ){{0,2}}?",
    "F3": rf"(?:(?!(?:{_NEGATORS})(?![a-z']))[a-z']+ ){{0,3}}?",
    # Acts directed at oneself that end one's life, including filter-dodging slang.
    "ACT": r"(?:(?:kill|killing|killed|off|offing|unalive|unaliving|hang|hanging|shoot|shooting|drown|drowning|"
           r"poison|poisoning|stab|stabbing|end|ending|neck|necking|suffocate|suffocating|starve|starving) ?my ?self"
           r"|(?:end|ending|take|taking) ?my ?(?:own )?life|commit(?:ting)? suicide|(?:end|ending) it all"
           r"|self ?delet(?:e|ing)|unaliv(?:e|ing)|sewer ?slide|(?<![0-9] )(?<![0-9])kms|ctb)",
    # Self-harm that need not be suicidal.
    "SH": r"(?:(?:cut|cutting|burn|burning|hurt|hurting|harm|harming) my ?self|self ?harm(?:ing|ed|s)?)",
    "DIE": r"(?:die|be dead|not be alive|stop living|stop breathing|not exist)",
    # What a voice orders the writer to do to themselves.
    "HARM_ORDER": r"(?:<ACT>|<SH>|<DIE>|kill me|end it(?: all)?(?= |[.,!;]|$)|end (?:everything|my life)|jump(?= and |[.,!;]|$)"
                  r"|(?:give|sacrifice) (?:up )?(?:my ?self|my life)|jump (?:off|from|in front)|step (?:in front|off)"
                  r"|throw my ?self|walk into (?:traffic|the (?:sea|river|road|ocean|lake))|(?:cut|slit) my (?:wrists?|arms?|throat))",
    # Words between the writer and "kys", and the verb that makes it their own act.
    "KYS_FILL": r"(?:(?:lol|lmao|ngl|tbh|honestly|lowkey|fr|just|really|literally|actually|prob|probably|so) ){0,3}",
    "KYS_MODAL": r"(?:gonna|going to|might|about to|finna|wanna|want to|will|could|need to|have to|gotta) ",
    "NUM": r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|a few|few)",
    "DAY": r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
    # Medicines named in overdose questions.
    "MEDS": r"(?:pills|tablets|capsules|meds|medication|medications|mg|milligrams|antidepressants|painkillers"
            r"|sleeping pills|sleeping tablets|tylenol|paracetamol|acetaminophen|ibuprofen|advil|aspirin|benadryl"
            r"|insulin|xanax|ambien|lithium|sertraline|zoloft|prozac|seroquel|oxycodone|oxy|percs|opioids|benzos)",
    # A large amount of alcohol at once ("a whole bottle of vodka", "drank a fifth").
    "BINGE": r"(?:(?:a|the|one|an entire|a whole|the whole|half a|two|three|most of (?:a|the)) (?:whole )?(?:bottle|fifth|handle)"
             r"s? of (?:[a-z']+ )?(?:vodka|whiskey|whisky|gin|rum|tequila|wine|booze|liquor|jack|bourbon)"
             r"|(?:drank|drinking|downed|chugged|finished) (?:a |the )?(?:whole |entire )?(?:bottle|fifth|handle))",
    # Pills the writer took, their own or someone else's ("took some of my mom's pills").
    "PILLS_TAKEN": r"(?:took|take|taken|taking|swallowed|swallowing|popped|popping|downed|ate|had) (?:some|a few|a couple|a lot"
                   r"|loads|a bunch|a handful|several|all|most|<NUM>|\d+)? ?(?:of )?(?:my |the |[a-z]+'s |his |her )?"
                   r"(?:[a-z']+ )?(?:pills|tablets|meds|xanax|xans|bars|benzos|painkillers|sleeping pills|valium|ambien"
                   r"|oxys?|oxycodone|percs|percocets?|opioids|codeine|tramadol)",
    # Aims that make a question about a dose a question about dying ("to not wake up").
    "LETHAL_AIM": r"to (?:die|not wake up|never wake up|kill (?:me|myself|a person|someone)|overdose|od|be fatal"
                  r"|be lethal|stop (?:my|a) heart|end it|end my life|sleep forever)|(?:would|will) kill (?:me|a person|someone)",
    "PET": r"(?:[a-z']+ )?(?:cats?|dogs?|pets?|puppy|kitten|bird|birds|fish|rabbit|hamster|parrot|horse|ferret"
           r"|guinea pig)",
    # A stay with a return date, which makes pet care an errand.
    "SHORT_STAY": r"vacation|holiday|trip|away for|while i'm (?:away|at|on|travel)|business|conference|for the weekend"
                  r"|next week|until i'm back|when i'm back|sitter"
                  r"|for (?:a|the|one|two|three) (?:few )?(?:days?|weeks?|months?|nights?|couple)",
    # Ordinary reasons to find a pet a new home, which cancel the farewell reading.
    "REHOME_REASON": r"(?<![a-z])(?:allerg|landlord|lease|apartment|moving|move (?:abroad|away|house)|afford|new baby"
                     r"|farm|vets?(?![a-z])|shelter|rescue|behaviou?r|bit (?:my|our|a)|biting|more space"
                     r"|bigger (?:garden|yard))",
}


@dataclasses.dataclass(frozen=True)
class Rule:
    """One phrase pattern that raises a signal of ``category`` at ``severity``."""

    id: str
    category: str
    severity: int
    pattern: re.Pattern[str]
    # Substrings of which every match contains one; the scorer scans only sentences that contain one.
    anchors: tuple[str, ...] = ()
    # Check the words before the match for a negator ("I would never ...").
    negatable: bool = True
    # Raise to high when the words before it express desire or intent ("I want to jump ...").
    intent_upgrade: bool = False
    # Severity when the sentence or the next one states that the act is permanent ("... for good",
    # "told her it was only for a while. It isn't."); None leaves the severity alone.
    final_severity: int | None = None
    # A sentence that matches this pattern cancels the rule ("rope for the tire swing").
    unless: re.Pattern[str] | None = None
    # Run only on text in a language the scorer does not support.
    foreign_only: bool = False
    # The match counts only when the text before it matches this pattern ("try again"
    # after an earlier attempt); None puts no such condition.
    only_after: re.Pattern[str] | None = None
    # Drop the match when its subject is someone else ("my friend said she wants to die").
    # Off for psychosis, where others acting on the writer is the symptom.
    person_check: bool = True


def _expand(pattern: str) -> str:
    # A fragment may name other fragments, so replace until none is left.
    expanded = None
    while expanded != pattern:
        expanded = pattern
        for name, fragment in _FRAGMENTS.items():
            pattern = pattern.replace(f"<{name}>", fragment)
    return pattern.replace(" ", r"\s")


def _compile(pattern: str, bounded: bool = True) -> re.Pattern[str]:
    body = _expand(pattern)
    if bounded:
        body = rf"(?<![a-z0-9'])(?:{body})(?![a-z])"
    return re.compile(body)


def _rule(rule_id: str, category: str, severity: int, pattern: str, anchors: str = "", *,
          negatable: bool = True, intent_upgrade: bool = False, unless: str | None = None,
          foreign_only: bool = False, bounded: bool = True, final_severity: int | None = None,
          only_after: str | None = None) -> Rule:
    return Rule(
        id=rule_id,
        category=category,
        severity=severity,
        pattern=_compile(pattern, bounded),
        anchors=tuple(anchors.split()) if anchors else (),
        negatable=negatable,
        intent_upgrade=intent_upgrade,
        final_severity=final_severity,
        unless=_compile(unless, bounded=False) if unless else None,
        foreign_only=foreign_only,
        only_after=_compile(only_after, bounded=True) if only_after else None,
        person_check=category != _PSYCHOSIS,
    )


# "Die my hair blue": "die" misspelt for "dye", followed by what is coloured.
_DYE_OBJECT = (r"(?:die|dying|died) (?:my|her|his|their|the|your|our|it|them)? ?(?:hair|beard|fringe|bangs|roots"
               r"|eyebrows|tips|ends|shirt|jeans|clothes|fabric|wool|yarn|eggs|pink|blue|red|green|purple|black"
               r"|blonde|brown|silver|ginger)(?![a-z])")

# An attempt named as such, past or present ("tried to kill myself", "a suicide attempt").
_ATTEMPT_PHRASE = (r"(?:tried|attempted|trying|try) to (?:<ACT>|<DIE>|overdose|od|jump|end it|hang myself)"
                   r"|attempted suicide|suicide attempt")

_WISH = "wish_to_be_dead"
_IDEATION = "active_ideation"
_METHOD = "method"
_INTENT = "intent"
_PLAN = "plan"
_BEHAVIOR = "preparatory_behavior"
_PSYCHOSIS = "psychosis_mania"
_SUBSTANCE = "substance_use"
_DISTRESS = "acute_distress"

_ACT_ANCHORS = "self life suicid all delet unaliv slide kms ctb"

# Why a goodbye is ordinary: a move, a trip, a job, a party or a school year.
_ORDINARY_GOODBYE = (
    r"moving (?:to|away|abroad|house|out)|move (?:to|away|abroad|out)|flight|trip|vacation|holiday|abroad"
    r"|new job|last day (?:at|of)|coworkers|colleagues|graduat|party|off to|leaving for|heading (?:to|off)"
    r"|semester|camp|relocat|emigrat|leaving (?:for|to|this|the|my) (?:[a-z]+ )?(?:town|city|country|job|house"
    r"|flat|apartment|company|school|uni|team)"
    # A chat sign-off ("ok im off, bye everyone xx").
    r"|i'm off|im off|(?<![a-z])xx+(?![a-z])|gtg|g2g|ttyl|talk (?:later|tomorrow|soon)|logging off|heading (?:out|home)"
    r"|see (?:you|u|ya|y'all) (?:later|tomorrow|soon|then|on|at|in|next)")

SUICIDE_RULES = (
    # C-SSRS 1: wish to be dead, or to fall asleep and not wake up.
    _rule("cssrs.wish.dead", _WISH, MODERATE,
          r"wish <F2>(?:i )?(?:was|were|could be) dead"
          r"|(?:wish|wishing) (?:i'd |i had |i was |i were )?never (?:been )?born"
          r"|(?:wish|wishes|hope|pray|praying|hoping|wishing) <F2>(?:i could |i would |i'd |to )?(?:just )?"
          r"(?:disappear|vanish|fade away|stop existing|cease to exist|sleep forever|go to sleep forever"
          r"|never wake up|die in my sleep|get sick and die|be gone forever)",
          "wish hope pray"),
    _rule("cssrs.wish.no_wake", _WISH, MODERATE,
          r"(?:hope|pray|praying|hoping|wish|wishes) (?:that )?i (?:just )?(?:don't|do not|never|won't|wouldn't) wake up"
          r"(?! (?:late|early|on time|at)(?![a-z]))"
          r"|(?:go to sleep|fall asleep|sleep|go to bed) and (?:never|not) wake up"
          r"|not wake up (?:again|tomorrow|in the morning)",
          "wake", negatable=False),
    _rule("cssrs.wish.not_alive", _WISH, MODERATE,
          r"(?:don't|dont|do not|no longer|never) <F2>(?:want|wanna|wish) to (?:exist|be alive|be here|live|be around"
          r"|wake up|keep living|go on|keep going)(?! (?:without|with|in|like that|there|near|for|at|on)(?![a-z]))",
          "want wish", negatable=False),
    _rule("cssrs.ideation.not_live_anymore", _IDEATION, HIGH,
          r"(?:don't|dont|do not|no longer) <F2>(?:want|wanna) to (?:live|be alive) (?:any ?more|any longer)",
          "any", negatable=False),
    _rule("cssrs.wish.disappear", _WISH, MODERATE,
          r"(?:want|wanna|wanted) <F2>to (?:disappear|vanish|stop existing|not exist|fade away|sleep forever|be gone)"
          r"(?! (?:for a|for the|for \d|on|to|from)(?![a-z]))",
          "disappear vanish exist fade forever gone"),
    _rule("cssrs.wish.better_off", _WISH, MODERATE,
          r"better off (?:dead|without me|if i (?:was|were|wasn't|weren't) (?:gone|dead|here|around))"
          r"|(?:easier|better) for everyone if i",
          "better easier"),
    _rule("cssrs.wish.unmissed", _WISH, MODERATE,
          r"(?:no one|nobody|noone) (?:would|will|'d|'ll) (?:even )?(?:miss|notice|care)(?: [a-z']+){0,3}? if i "
          r"(?:died|was gone|were gone|disappeared|wasn't here|weren't here|killed myself|was dead)"
          r"|(?:no one|nobody|noone) (?:would|will) (?:even )?(?:miss|notice) me",
          "miss notice care", negatable=False),
    _rule("cssrs.wish.indifferent", _WISH, MODERATE,
          r"(?:don't|do not) care (?:if|whether) i (?:live|die|wake up|make it)"
          r"|(?:wouldn't|would not|don't think i'd|i wouldn't) (?:even )?mind (?:if i (?:died|didn't wake up|got hit|was gone)"
          r"|dying|that much|not waking up|getting hit)"
          r"|(?:if|hope) (?:a |some )?(?:car|bus|truck|train) (?:hits|hit|would hit|ran over|runs over) me",
          "care mind hit over", negatable=False),
    # Hoping for an accident that would kill the writer: "I kind of hope the plane goes down".
    _rule("cssrs.wish.accident", _WISH, MODERATE,
          r"(?:hope|hoping|wish|wishing|pray|praying) (?:that )?(?:the|my|this|our) (?:plane|flight) "
          r"(?:goes down|go down|crashes|crash|falls|doesn't land|never lands|just drops)"
          r"|(?:hope|hoping|wish|wishing|pray|praying) (?:that )?(?:the|my|this) (?:car|bus|train|taxi|uber) "
          r"(?:crashes|crash|goes off the road|doesn't make it)",
          "hope hoping wish wishing pray praying"),
    # Perceived burden: the family "finally free of me", or paid out for the writer's death.
    _rule("cssrs.wish.burden", _WISH, MODERATE,
          r"(?:be|finally be|set|finally) free of me|(?:be|get|finally be|finally get) rid of me"
          r"|(?:won't|will not|wont) have to (?:deal with|worry about|put up with|look after|take care of|carry) me"
          r"(?: any ?more| any longer| much longer)",
          "free rid have"),
    _rule("cssrs.plan.insurance", _PLAN, HIGH,
          r"(?:life )?insurance (?:money|payout|pays? out|policy|will pay|would pay)(?: [a-z']+){0,8}? "
          r"(?:free of me|rid of me|without me|when i'm gone|after i'm gone|once i'm gone|if i die|when i die"
          r"|after i die)",
          "insurance"),
    _rule("cssrs.wish.not_worth", _WISH, MODERATE,
          r"(?:life|living|my life|being alive) (?:isn't|is not|'s not|is no longer|isnt|wasn't|was not) worth "
          r"(?:living|it)",
          "worth", negatable=False),
    _rule("cssrs.wish.no_point", _WISH, MODERATE,
          r"(?:what's|what is|there's no|no|there is no|whats) (?:the )?(?:point|reason|use) (?:of|in|to) "
          r"(?:living|being alive|going on|staying alive|live|existing|stay|staying|keep going|waking up)"
          r"|no reason to (?:live|stay|go on|keep going|be here)|nothing (?:left )?to live for"
          r"|nothing left for me",
          "point reason live nothing", negatable=False),
    _rule("cssrs.wish.tired_living", _WISH, MODERATE,
          r"(?:tired|sick|exhausted) of (?:living|being alive|existing|life|being here)",
          "tired sick exhausted"),
    _rule("cssrs.wish.easier_gone", _WISH, MODERATE,
          r"(?:easier|better|simpler) if i (?:just )?(?:wasn't|weren't|was not|were not) (?:here|around|alive)"
          r"|(?:easier|better|simpler) if i (?:just )?(?:stopped existing|disappeared|died|was gone|were gone|didn't exist)",
          "easier better simpler"),

    # C-SSRS 2: active thoughts of killing oneself.
    _rule("cssrs.ideation.want_act", _IDEATION, HIGH,
          r"(?:want|wants|wanna|wanted|wanting|need|urge|urges|tempted|wish i could|wishing i could|feel like) "
          r"<F2>(?:to )?(?:<ACT>|<SH>)",
          _ACT_ANCHORS + " harm cut hurt burn"),
    _rule("cssrs.ideation.thinking_act", _IDEATION, HIGH,
          r"(?:think|thinking|thought|thoughts|considering|considered|consider|contemplating|contemplate|fantasi[sz]ing"
          r"|dreaming|obsessing|thinking seriously) <F2>(?:about|of) <F2>(?:<ACT>|<SH>|suicide|sewer ?slide|dying"
          r"|not being here|not existing|how to die)"
          r"|(?:considering|contemplating|considered|contemplated) <F2>(?:suicide|<ACT>|ending my life)"
          r"|(?:suicide|dying|killing myself|ending it|ending my life) is all i (?:can )?think about"
          r"|all i (?:can )?think about is (?:suicide|dying|killing myself|ending it|ending my life)"
          r"|(?:can't|cannot|cant) stop thinking about (?:suicide|dying|<ACT>|ending it|ending my life)",
          _ACT_ANCHORS + " harm cut hurt burn dying being existing die think end"),
    _rule("cssrs.ideation.want_die", _IDEATION, HIGH,
          r"(?:want|wants|wanna|wanted|wanting|ready|deserve|deserves|need|needs) <F2>to <DIE>|wanna <F2><DIE>",
          "die dead alive living breathing exist",
          unless=_DYE_OBJECT),
    _rule("cssrs.ideation.act", _IDEATION, HIGH, r"<ACT>", _ACT_ANCHORS),
    # "kys" (kill yourself) is aimed at others, but "might just kys" with the writer as
    # the subject, named or left out at the start of a sentence, means themselves.
    _rule("cssrs.ideation.kys_self", _IDEATION, HIGH,
          r"(?:(?:i |i'm |im |i am |i'll |ill |ima |imma )<KYS_FILL>(?:<KYS_MODAL>)?"
          r"|(?:(?<=^)|(?<=[.!?,;:\n] )|(?<=[.!?,;:\n]))<KYS_FILL><KYS_MODAL>)"
          r"(?:(?:just|really|literally|actually|prob|probably|fr|lowkey) ){0,2}kys"
          r"(?! (?:him|her|them|you|u|ya|yall|everyone|someone|somebody|this|that|my|his|their|the)(?![a-z']))",
          "kys", bounded=False),
    _rule("cssrs.ideation.self_harm", _IDEATION, MODERATE, r"<SH>", "self"),
    _rule("cssrs.ideation.suicide_word", _IDEATION, MODERATE, r"suicid(?:e|al)", "suicid",
          # The word in a story or the news ("in my novel the detective finds a suicide note").
          unless=r"\b(?:novel|story|book|film|movie|episode|character|detective|chapter|plot|script|screenplay|fiction"
                 r"|article|documentary|podcast|true crime|the news)\b"),
    _rule("cssrs.wish.done_with_life", _WISH, MODERATE,
          r"(?:i'm|im|i am|so|just) done with (?:life|living|being alive|existing|this life)(?![a-z])|done living",
          "done"),
    _rule("cssrs.ideation.suicidal_self", _IDEATION, HIGH,
          r"(?:i'm|im|i am|feel|feeling|felt|been|get|getting|gotten|am) <F2>suicidal"
          r"|suicidal (?:thoughts?|ideation|urges?|feelings?|again|today|tonight|lately|all)"
          r"|thoughts? of (?:suicide|<ACT>|<SH>|dying|ending (?:my life|it))"
          r"|(?:having|had|have) (?:suicidal )?thoughts (?:of|about) (?:suicide|dying|<ACT>)",
          "suicid thought"),
    _rule("cssrs.ideation.suicide_appeal", _IDEATION, HIGH,
          r"suicide (?:is|feels|seems|looks|sounds)(?! not| never)(?: like)? <F2>(?:the )?(?:only|best|right|answer"
          r"|option|way out|better|good|tempting|appealing|easier|inevitable)",
          "suicide"),
    _rule("cssrs.ideation.let_go", _IDEATION, HIGH,
          r"(?:how|so) easy it (?:would|'d) be to (?:just )?(?:let go|jump|step|end it|die|fall|drive off|stop)",
          "easy"),
    _rule("cssrs.ideation.stop_forever", _IDEATION, HIGH,
          r"(?:want|wants|wanna|need) <F2>(?:it|everything|this|the pain|it all|things) (?:all )?to (?:stop|end|be over) "
          r"(?:for good|forever|permanently)"
          r"|make (?:it|the pain|this|everything) stop (?:for good|forever|permanently)",
          "for good forever permanently"),
    _rule("cssrs.ideation.end_all", _IDEATION, MODERATE,
          r"(?:want|wanna|wish|need) <F2>(?:it all|everything|it) to (?:end|be over)(?! (?:so|and then|already|soon)(?![a-z]))",
          "end over"),
    _rule("cssrs.ideation.catch_bus", _IDEATION, MODERATE,
          r"(?:want|wanna|going|gonna|ready|decided|planning) to catch the bus(?! (?:to|at|home|into|from|back|this morning"
          r"|in the morning|with)(?![a-z]))",
          "bus"),
    _rule("cssrs.ideation.crisis_line", _IDEATION, MODERATE,
          r"988|741741|(?:suicide|crisis) (?:hot ?line|line|lifeline|text line)|samaritans",
          "988 741741 line samaritans", unless=r"volunteer|training|fundrais|donat|work at|working at"),

    # C-SSRS 3: method.
    _rule("cssrs.method.jump", _METHOD, MODERATE,
          r"(?:jump|jumping|leap|leaping|throw myself|throwing myself|step|stepping|walk|walking|drive|driving|crash"
          r"|crashing|steer) (?:[a-z']+ ){0,2}?(?:off|from|in front of|into|onto) (?:the |a |that |my |an )?"
          r"(?:[a-z']+ ){0,2}?(?:bridge|roof|rooftop|building|balcony|overpass|cliff|tracks|train|bus|truck|traffic"
          r"|sea|ocean|river|lake|window|ledge|parking garage|wall|tree)",
          "bridge roof building balcony overpass cliff tracks train bus truck traffic sea ocean river lake window ledge garage wall tree", intent_upgrade=True,
          unless=r"swim|diving|cliff jumping|for fun|pool|holiday|vacation|with friends|splash|bungee|parachut|skydiv"
                 r"|party|festival|dare"),
    # A plan phrased as a trip: "driving to the top of the parking garage and jumping",
    # "stepping in front of the 7:15 train tomorrow".
    _rule("cssrs.method.trip_jump", _METHOD, HIGH,
          r"(?:driving|heading|going|walking|taking the [a-z]+|getting a [a-z]+) (?:out )?(?:to|up to) (?:[a-z0-9']+ ){0,6}?"
          r"(?:garage|roof|rooftop|bridge|cliffs?|quarry|tower|building|overpass|balcony|ledge|top floor|pier|dam)"
          r"(?: [a-z0-9']+){0,5}? and (?:jumping|jump|throwing myself|stepping off|going over)(?! (?:in|into) the (?:pool|lake|water|sea)"
          r" (?:with|for))"
          r"|(?:stepping|step|walking|walk|throwing myself|throw myself) in front of (?:a|the|an) (?:[0-9:]+ |[a-z]+ )?"
          r"(?:train|bus|truck|lorry|tube|tram|subway)(?! (?:doors|station|stop|timetable))",
          "garage roof rooftop bridge cliff cliffs quarry tower building overpass balcony ledge floor pier dam front",
          unless=r"swim|diving|cliff jumping|for fun|pool|holiday|vacation|with friends|splash|bungee|parachut|skydiv"
                 r"|party|festival|dare|photo|selfie|picture"),
    # Stopping food, drink or a life-saving medicine in order to die.
    _rule("cssrs.intent.stop_eating", _INTENT, HIGH,
          r"(?:going to|gonna|will|i'll|ill|decided to|plan to|planning to) (?:just )?(?:stop|quit) (?:eating|drinking"
          r"|eating and drinking|drinking and eating|taking my (?:insulin|meds|medication|heart pills))"
          r"(?: [a-z']+){0,3}? (?:until (?:it's over|it is over|i die|the end|i'm gone|i am gone|i don't wake up)|to die)",
          "until die"),
    _rule("cssrs.method.edge", _METHOD, MODERATE,
          r"stand(?:ing)? (?:at|on) the edge|imagin(?:e|ing) (?:[a-z']+ ){0,2}?(?:stepping|jumping|falling) "
          r"(?:forward|off|in front)|stepping forward",
          "edge stepping", intent_upgrade=True),
    _rule("cssrs.method.firearm", _METHOD, HIGH,
          r"(?:gun|pistol|rifle|shotgun|firearm)(?: [a-z']+){0,3}? (?:to|against|in) my (?:head|mouth|temple|chest)"
          r"|(?:use|using|used|turn|turning) (?:it|them|the [a-z']+|a [a-z']+|his [a-z']+|her [a-z']+"
          r"|my [a-z']+ [a-z']+) on myself",
          "myself gun pistol rifle shotgun firearm"),
    _rule("cssrs.method.firearm_access", _METHOD, LOW,
          r"(?:dad's|father's|grandfather's|grandpa's|his|my|our|the|uncle's|mom's) (?:gun|pistol|rifle|shotgun|firearm)",
          "gun pistol rifle shotgun firearm"),
    # Loading a gun is preparing the means (the C-SSRS counts it as preparatory behaviour),
    # unless the sentence is about hunting, a range, home defence, fiction or a tool such as a staple gun.
    _rule("cssrs.method.firearm_loaded", _METHOD, HIGH,
          r"(?:gun|pistol|rifle|shotgun|revolver|handgun|glock)(?:'s| is| was)? (?:already |now |fully )?loaded"
          r"|loaded (?:up )?(?:the|my|his|her|dad's|a) (?:[a-z']+ )?(?:gun|pistol|rifle|shotgun|revolver|handgun|glock)"
          r"|(?:bullet|round|shell) (?:in the chamber|chambered)|chambered (?:a|one|the) (?:round|bullet|shell)"
          r"|(?:one|a) (?:round|bullet) chambered|safety(?:'s| is)? off"
          r"|point(?:ed|ing)? (?:it|the gun|the barrel|the pistol|the revolver) at my (?:head|temple|chest|mouth|heart)",
          "loaded chamber chambered safety point",
          unless=r"(?<![a-z])(?:hunt[a-z]*|season|range|target|practice|deer|duck|pheasant|goose|geese|clay|skeet"
                 r"|staple|glue|nail|water|nerf|paintball|airsoft|caulk|toy|spray|heat|squirt|bb|dishwasher|washing"
                 r"|competition|club|class|training|lesson|instructor|safety (?:class|course|training|lesson|catch on)"
                 r"|safe|locked|unloaded|clean[a-z]*"
                 r"|protection|intruder|burglar[a-z]*|self[- ]?defen[cs]e|home defen[cs]e|movie|film|game|scene"
                 r"|character|novel|story|chapter)(?![a-z])"),
    _rule("cssrs.method.hanging", _METHOD, HIGH,
          r"noose|hang myself|hanging myself|tie (?:a|the) (?:rope|knot) (?:around|to)"
          r"|(?:tied|tie|tying) (?:the |a )?(?:knot|loop) (?:on|in|into) (?:the |a |my )?rope"
          r"|rope(?: [a-z',]+){0,10}? (?:tested|checked|made sure|sure) (?:that |if |whether )?the (?:beam|rafter|hook"
          r"|banister|bannister|railing|branch|pipe) (?:holds|will hold|would hold|can hold|takes my weight)",
          "noose hang tie tied tying rope",
          unless=r"(?:tire|tyre|rope) swing|hammock|clothes ?line|washing line|tow rope|climbing|sailing|boat|tent"),
    _rule("cssrs.method.overdose", _METHOD, MODERATE,
          r"overdos(?:e|ing)(?! on (?:chocolate|caffeine|coffee|sugar|netflix|tv|candy|cake|content))"
          r"|od(?:ing)?(?= on (?!chocolate|caffeine|coffee|sugar))"
          r"|take (?:all|every one|the whole (?:bottle|pack|box)) (?:of )?(?:my )?(?:[a-z']+ ){0,2}?(?:pills|meds|tablets)"
          r"|(?:swallow|swallowing) (?:all|every|the whole)"
          r"|all (?:of )?(?:my|the) (?:[a-z']+ )?(?:pills|meds|tablets) (?:at once|with|together)"
          r"|(?:pills|meds|tablets) with (?:the )?(?:vodka|alcohol|wine|whiskey|booze)",
          "overdos od take swallow pills meds tablets", intent_upgrade=True),
    # A large amount of alcohol and pills within a few words may be an overdose in progress, whatever the intent.
    _rule("cssrs.behavior.alcohol_and_pills", _BEHAVIOR, HIGH,
          r"<BINGE> (?:[a-z',]+ ){0,8}?<PILLS_TAKEN>|<PILLS_TAKEN> (?:[a-z',]+ ){0,8}?<BINGE>",
          "bottle fifth drank drunk vodka whiskey wine pills tablets meds",
          unless=r"(?:didn't|did not|never|don't|do not|won't|wouldn't) (?:[a-z']+ ){0,3}?(?:take|took|drink|drank)"
                 r"|vitamins|supplements|antibiotics"),
    _rule("cssrs.method.cutting", _METHOD, HIGH,
          r"(?:razor|blade|knife)(?: blade)?s?(?: [a-z']+){0,3}? (?:against|to|on|across|into) my (?:wrists?|arms?|skin"
          r"|thighs?|legs?|throat)|(?:slit|cut|slash|slice) (?:open )?my (?:wrists?|throat)",
          "razor blade knife wrist throat"),
    _rule("cssrs.method.other", _METHOD, MODERATE,
          r"carbon monoxide|car running in (?:the|a) (?:closed )?garage|charcoal (?:in|and tape|burning)"
          r"|(?:drink|drinking|swallow) bleach|exhaust (?:pipe|fumes)",
          "monoxide garage charcoal bleach exhaust", intent_upgrade=True),
    _rule("cssrs.method.lethality", _METHOD, HIGH,
          r"(?:how|what) (?:many|much) (?:[a-z']+ ){0,3}?<MEDS>(?: [a-z']+){0,4}? "
          r"(?:(?:would it take|does it take|it would take|it takes|would be enough|is enough)(?= ?[?.!]|$| (?:<LETHAL_AIM>))"
          r"|(?:is|would be) (?:a )?(?:lethal|fatal|deadly)|<LETHAL_AIM>)"
          r"|lethal dose|fatal dose|(?:painless|quickest|easiest|best) (?:way|ways|method|methods) to (?:die|go|<ACT>)"
          r"|(?:looked|looking|look|searched|googled|researching|researched) up (?:how|ways) to (?:die|<ACT>|overdose)"
          r"|reading about methods|researching (?:[a-z']+ ){0,3}?(?:way|ways|method|methods) to (?:die|<ACT>)",
          "many much lethal fatal painless quickest easiest best look search googled research method"),
    # "I finally know how" means nothing alone. With a wish or ideation it is C-SSRS question 3.
    _rule("cssrs.method.knows_how", _METHOD, LOW,
          r"i(?:'ve| have)? (?:think i |finally |now |already |just )*(?:know|knew|figured out|worked out|found out"
          r"|learned|learnt|found) (?:exactly )?how(?: (?:i'd|i would|i could|i can) do it| to (?:make (?:that|it|this) happen"
          r"|do (?:it|that|this)|go through with it|get it done|pull it off|make it quick|make it painless))?(?=[.!?,;]|$| now)",
          "how"),
    _rule("cssrs.method.access", _METHOD, MODERATE,
          r"(?:i )?have (?:two|three|four|\d+|a few|several) (?:full )?(?:bottles|packs|boxes)"
          r"|more than that in the (?:cabinet|drawer|bathroom)|counted (?:them|my pills|the pills)",
          "bottles packs boxes cabinet drawer bathroom counted"),

    # C-SSRS 4: intent.
    _rule("cssrs.intent.act", _INTENT, HIGH,
          r"(?:going to|gonna|about to|will|i'll|ill|decided to|planning to|plan to|intend to|have to|gotta) "
          r"<F2>(?:<ACT>|<SH>)",
          _ACT_ANCHORS + " harm cut hurt burn"),
    # Another attempt, after the text has named an earlier one ("Ten years ago I tried to
    # kill myself. Today I want to try again."); without one it is an exam or a recipe.
    _rule("cssrs.intent.another_attempt", _INTENT, HIGH,
          r"(?:want|going|gonna|planning|plan|ready|about|need|have) to (?:try|do it) (?:it |that )?again"
          r"|(?:i'll|i will|i'm gonna|im gonna) (?:try|do it) (?:it |that )?again",
          "again", only_after=_ATTEMPT_PHRASE),
    # "I'm on the roof and I'm going to jump": a jump with no place after it, in a text that
    # puts the writer up high.
    _rule("cssrs.intent.jump_from_height", _INTENT, HIGH,
          r"(?:going to|gonna|about to|ready to|want to|wanna|will|i'll|decided to|courage to|nerve to|brave enough to"
          r"|guts to) (?:just |finally )?jump(?: off| down| over)?(?= *(?:[.!,;]|$| now| tonight| today| soon| when))",
          "jump",
          only_after=r"(?:on|up on|at the top of|on top of|standing on|sitting on|out on|at|to) (?:the |a |my |this |that )?"
                     r"(?:[a-z']+ ){0,2}?(?:roof|rooftop|ledge|bridge|overpass|balcony|cliff|edge|tower|top floor"
                     r"|window ?sill|parking garage|car park|railing)s?",
          unless=r"pool|swim|dive|diving|parachut|bungee|trampoline|skydiv|paraglid|base jump|zip ?line|puddle"
                 r"|skipping|jump rope|snowboard|bike|skate|parkour|stunt|with friends|photo|video|scared of heights"
                 r"|\b(?:fun|ski|skiing|dare)\b"),
    _rule("cssrs.intent.die", _INTENT, MODERATE,
          r"(?:decided to|planning to|plan to|intend to) <F2><DIE>",
          "die dead alive living"),
    # "I'm going to die tonight": the writer's own death on a near date, with no cause
    # that makes it a figure of speech ("of embarrassment", "if this curry is hot").
    _rule("cssrs.intent.die_on_date", _INTENT, HIGH,
          r"(?:i'm|im|i am) (?:going to|gonna) die (?:tonight|today|tomorrow|this (?:week|weekend))(?= *(?:[.!]|$))",
          "die"),
    _rule("cssrs.intent.not_around", _INTENT, HIGH,
          r"(?:won't|wont|will not|not going to|n't going to|not gonna|n't gonna) be (?:here|around|alive)"
          r"(?: [a-z']+){0,2}? (?:much longer|for long|for the next|for my|tomorrow|next (?:week|month|year)|by|to (?:see|feel)"
          r"|anymore|soon|after)"
          r"|(?:don't|do not) (?:plan|intend|expect) (?:on |to )?be(?:ing)? (?:here|around|alive)"
          r"|(?:don't|do not|can't|cannot|cant|dont) see myself (?:being |still )?(?:here|around|alive)"
          r" (?:when|by|for|to see|at|in|next|this)"
          r"|(?:won't|will not|not going to) be a burden (?:much|for much) longer",
          "here around alive burden", negatable=False,
          # An ordinary absence with its reason or its end ("won't be around next week, exams").
          unless=r"exams?|revision|busy|work trip|business trip|travel|holiday|vacation|conference|offline|camp|festival"
                 r"|wifi|signal|on call|shifts?|out of (?:town|office)|back (?:on|in|next|by)|reply|replies|respond"
                 r"|job|company|firm|role|career|team|department|flat|apartment|house|city|town|country|moving|move"),
    _rule("cssrs.intent.decided", _INTENT, MODERATE,
          r"(?:i've|i have|ive) (?:made (?:up )?my (?:mind|choice|decision)|decided)(?=[.!,]|$| and| this| that i| to"
          r" (?:end|die|go|do it|kill)| i won't| i'm going)"
          r"|made my (?:peace|choice)(?! with (?:the|my|our) (?:job|ex|decision))|my mind is made up",
          "made decided",
          # An ordinary decision named in the sentence ("made my decision, quitting my job").
          unless=r"\b(?:job|quit(?:ting)?|resign(?:ing)?|offer|uni|university|college|course|degree|major|apartment|flat"
                 r"|house|lease|car|wedding|dress|school|move|moving|break(?:ing)? up|dump(?:ing)?|divorce|diet|vegan"
                 r"|gym|haircut|tattoo|name|puppy|kitten|holiday|vacation|trip)\b"),
    _rule("cssrs.intent.tonight", _INTENT, HIGH,
          r"(?:tonight|today|tomorrow|this weekend) (?:is the (?:night|day)(?=[.!,;]|$| i (?:do it|end it|go|leave|die))"
          r"|it (?:all )?ends|i end it|i'm doing it"
          r"|i do it)|it (?:all )?ends (?:tonight|today|tomorrow|this weekend|soon)"
          r"|(?:i'm going to|gonna|i'll) do it (?:tonight|today|tomorrow|this weekend|soon)"
          r"|i'm doing it (?:tonight|today|tomorrow|this (?:week|weekend)|soon)(?= *(?:[.!]|$))"
          r"|tonight i (?:end|finish) (?:it|everything)|(?:that|it|this) (?:would|will|should) do it",
          "tonight today tomorrow weekend week soon ends would will should",
          # What ends may be a show, a sale or a contest ("it ends tonight, the season finale").
          unless=r"finale|season|episode|series|the show|sale|offer|discount|deal|tournament|contest|competition"
                 r"|giveaway|auction|voting|registration|deadline"
                 # Or an event the writer looks forward to ("tonight is the night, wish me luck").
                 r"|wish me luck|fingers crossed|so excited|can't wait|cant wait|first date|date night|concert|gig"
                 r"|premiere|propos(?:e|ing|al)|big game|the match|interview|launch|opening night"),
    _rule("cssrs.intent.no_wake", _INTENT, HIGH,
          r"make sure i (?:don't|do not|never|won't) wake up", "wake", negatable=False),
    # The wish "sleep forever" is C-SSRS 1. Stated as what the writer will do, it is intent.
    _rule("cssrs.intent.sleep_for_good", _INTENT, HIGH,
          r"(?:i'm going to|im going to|i am going to|i'm gonna|im gonna|i'll|i will) (?:go to )?sleep"
          r" (?:for good|forever|permanently|and (?:never|not) wake up)",
          "sleep"),
    _rule("cssrs.intent.no_more_worry", _INTENT, HIGH,
          r"(?:nobody|no one|noone|you|they|everyone) (?:will|'ll|won't|wont|will not) (?:have|need) to (?:worry|deal) (?:about|with) me"
          r"(?: again| anymore| much longer)?|soon (?:they|you|everyone|you all) will be(?=[.!]|$)"
          r"|(?:tonight|today|tomorrow) (?:i think )?it will(?=[.!]|$)",
          "worry deal soon tonight today tomorrow", negatable=False),
    _rule("cssrs.plan.found_way", _PLAN, HIGH,
          r"(?:found|know|figured out|think i know|think i've found) (?:a|the) way(?: to)?(?=[.!]|$)"
          r"|found a way to (?:do it|end it|die|disappear|go|make it stop)",
          "way"),
    _rule("cssrs.intent.last_time", _INTENT, HIGH,
          r"(?:the )?last (?:week|day|night|time) (?:i'm|i am|i'll be|i will be) (?:doing this|alive|here|around)"
          r"|(?:it's )?over for good|end it for good|(?:soon|after this|after tonight),? (?:none of this|nothing) will matter",
          "last for good matter"),
    _rule("cssrs.intent.ready_go", _INTENT, MODERATE,
          r"(?:i'm|i am|im) ready to (?:go|leave)(?= now| and|[.!,]|$)|(?:it's )?time for me to go(?![a-z ]{0,4}(?:to|home|out|back))"
          r"|(?:i'm|i am) not (?:scared|afraid) (?:anymore|of dying|to die)",
          "ready time scared afraid", negatable=False),

    # C-SSRS 5: plan.
    _rule("cssrs.plan.explicit", _PLAN, HIGH,
          r"(?:have|got|made|making|came up with) (?:a|the) plan(?=[.!,]|$| to (?:<ACT>|die|do it|end)| for (?:it|how|when))"
          r"|(?:i've|i have|ive) (?:planned|picked|chosen|set) (?:it|the date|a date|the day|a day|the time|the place"
          r"|when|where|how)|planned it for|had a plan to (?:<ACT>|die)",
          "plan picked chosen set"),
    # "Know how to do it" or "where to go" alone is everyday talk ("I know where to go for
    # brunch"); it counts here only with a first-person modal or an act of self-harm, and
    # otherwise falls to the weaker cssrs.method.knows_how.
    _rule("cssrs.plan.how_known", _PLAN, HIGH,
          r"(?:know|knew|figured out|worked out|wrote down|written down) (?:exactly )?(?:how|when|where|which [a-z']+"
          r"|what) (?:(?:i'd|i would|i'll|i will|i'm going to|i'm gonna|to) (?:end it|<ACT>)"
          r"|(?:i'd|i would|i'll|i will|i'm going to|i'm gonna) (?:do it|use)(?![a-z]| (?:to|for|with|on|in|out|back|home)(?![a-z])))"
          r"|(?:know|knew) (?:which|what) (?:bridge|building|rope|gun|method)(?= i| to|[.!,]|$)"
          r"|(?:know|knew) (?:where|how) and when|how i'd do it|what i'd use",
          "know knew figured worked out wrote down written down how i'd what i'd"),

    # C-SSRS 6: preparatory behaviour, recent self-harm and attempts.
    _rule("cssrs.behavior.attempt", _BEHAVIOR, SEVERE,
          _ATTEMPT_PHRASE +
          r"|(?:took|swallowed|downed|taken) (?:a (?:handful|bunch|bottle|fistful|whole bottle)|all|too many"
          r"|the whole (?:bottle|pack|box)|every) (?:of )?(?:my |the )?(?:[a-z']+ )?(?:pills|tablets|meds)"
          r"|overdosed",
          "tried attempted trying try attempt took swallowed downed taken overdosed",
          # Taking the day's or the course's pills as prescribed.
          unless=r"(?:like|as) (?:the |my )?(?:doctor|gp|nurse|pharmacist|psychiatrist) (?:said|told|asked|prescribed)"
                 r"|as prescribed|as usual|course of|antibiotics|vitamins|supplements"),
    _rule("cssrs.behavior.self_harm", _BEHAVIOR, HIGH,
          r"(?:cut|burned|burnt|hurt|scratched|harmed) myself (?:again|last night|today|yesterday|this morning|tonight"
          r"|deeper|badly|on purpose)|(?:been|started|keep|kept|am|i'm) (?:cutting|burning|hurting|harming) "
          r"(?:myself )?again|relapsed (?:on|into|with) self ?harm",
          "myself harm",
          unless=r"shaving|cooking|chopping|kitchen|by accident|accidentally|slipped|paper cut|gym|lifting|running"),
    _rule("cssrs.behavior.stockpile", _BEHAVIOR, HIGH,
          r"(?:stockpil(?:e|ed|ing)|saving|saved|save|hoarding|hoarded|collecting|collected|stashing|stashed|gathering)"
          r" (?:up )?(?:[a-z']+ ){0,2}?(?:pills|meds|medication|medications|tablets|painkillers|antidepressants"
          r"|prescriptions|sleeping pills)",
          "pills meds medication tablets painkillers antidepressants prescriptions"),
    _rule("cssrs.behavior.acquire", _BEHAVIOR, HIGH,
          r"(?:bought|buy|buying|got|get|getting|ordered|order|picked up|purchased) (?:a |the |some |myself a )?"
          r"(?:rope|gun|pistol|rifle|shotgun|firearm|razor blades|blades|charcoal|helium)",
          "rope gun pistol rifle shotgun firearm blades charcoal helium",
          unless=r"swing|climbing|camping|hunting|range|boat|sailing|garden|tent|shav|bbq|barbecue|grill|balloon"
                 r"|party|skipping|jump rope"),
    _rule("cssrs.behavior.ready", _BEHAVIOR, HIGH,
          r"(?:got|have|had|get|laid out|lined up) (?:the |my |all the |all my )?(?:pills|rope|gun|blades?|razor|note"
          r"|letters)(?: [a-z']+){0,2}? (?:ready|out|lined up|counted|here|prepared)",
          "pills rope gun blade razor note letters"),
    _rule("cssrs.behavior.everything_ready", _BEHAVIOR, MODERATE,
          r"(?:i've|i have|ive|i) (?:got )?everything (?:ready|prepared|in place)|(?:have|got) everything i need"
          r"(?! for| to (?!do it))",
          "everything",
          # Ready for an event ("everything ready for tomorrow's trip").
          unless=_ORDINARY_GOODBYE + r"|tomorrow's|party|wedding|exam|interview|move|presentation|meeting|packed|packing"
                 r"|birthday|christmas|camping|school|class|recipe|dinner|bake|baking|guests|launch|the big day"),
    _rule("cssrs.behavior.giveaway", _BEHAVIOR, MODERATE,
          r"(?:gave|giving|give|given) away (?:[a-z']+ ){0,3}?(?:my|all my|most of my|everything)"
          r"|(?:gave|giving|given) away (?:my|all my|most of my) |(?:been )?giving my (?:things|stuff|belongings) away"
          r"|(?:giving|gave) (?:my|all my) (?:things|stuff|belongings|possessions) away",
          "away",
          unless=r"charity|goodwill|thrift|donat|declutter|moving|spring cleaning|yard sale|garage sale|outgrown"
                 r"|baby clothes|kids are older|kids' clothes|maternity"),
    _rule("cssrs.behavior.wont_need", _BEHAVIOR, MODERATE,
          r"(?:won't|will not|wont) need (?:them|it|these|those|my [a-z']+|anything|any of (?:it|this|them))"
          r"(?: anymore| where i'm going)?|where i'm going(?=[.!,]|$)"
          # Things for a future the writer does not expect: "I won't need a winter coat this year".
          r"|(?:won't|will not|wont) need (?:a|an|my|any|new) (?:[a-z']+ ){0,2}?(?:coat|jacket|glasses|passport|clothes"
          r"|shoes|boots|appointment|check ?up|dentist|haircut|renewal|subscription|birthday present"
          r"|christmas present)s? (?:this (?:year|winter|christmas|time)|next (?:year|winter|month|week)|any ?more"
          r"|after (?:this|tonight|[a-z]+day))",
          "need going", negatable=False,
          # The ordinary reasons: a move somewhere warm, a purchase, eye surgery.
          unless=r"moving|move to|bought|got a new|buying|warm|summer|australia|queensland|florida|laser|surgery"
                 r"|contacts|lenses|because|since|cause|cos|as i"),
    _rule("cssrs.behavior.note", _BEHAVIOR, HIGH,
          r"(?:wrote|written|writing|write|left|leave|leaving|sealed|finished) (?:[a-z']+ ){0,2}?(?:suicide )?"
          r"(?:notes?|letters)(?: [a-z']+){0,3}? (?:to|for) (?:everyone|each|my [a-z']+|the people|mum|mom|dad|people)"
          r"|(?:wrote|written|writing|finished|drafted|sealed) (?:my|a|the) (?:suicide |goodbye |last )?note"
          r"|suicide note|goodbye letters?|left letters|letters (?:to|for) everyone",
          "note notes letter letters",
          unless=r"thank you note|sticky note|grocery|shopping|class|lecture|meeting|cover letter|recommendation"
                 r"|(?:in|on) the (?:show|film|movie|book|novel|episode|series|game|play)(?![a-z])|detective|the character"
                 r"|landlord|letting agent|council|boss|manager|teacher|school|neighbou?r about|complain[a-z]*"
                 r"|about the (?:boiler|rent|noise|parking|heating|bins|leak|repairs?)"
                 r"|wedding|invitations?|invites?|christmas cards|birthday cards|pen ?pals?|santa"),
    _rule("cssrs.behavior.affairs", _BEHAVIOR, MODERATE,
          r"(?:updated|made|wrote|writing|finished|redid|sorted) (?:out )?my will|(?:paid off|paying off) (?:all )?(?:of )?"
          r"my debts|(?:put|putting|got|getting) my (?:affairs|things|finances|life) in order"
          r"|everything(?:'s| is) (?:in order|sorted|taken care of|settled)|(?:everything|it all) is sorted",
          "will debts order sorted taken settled",
          # A will made for a new baby, a marriage or a house is planning ahead.
          unless=r"(?<![a-z])(?:baby|newborn|pregnan[a-z]*|wedding|married|mortgage|estate planning|adulting)(?![a-z])"),
    _rule("cssrs.behavior.accounts", _BEHAVIOR, MODERATE,
          r"(?:deleted|deleting|delete) (?:all )?(?:of )?my (?:accounts|social media|profiles|instagram|facebook)",
          "delet"),
    _rule("cssrs.behavior.pet_care", _BEHAVIOR, LOW,
          r"(?:found|finding|find) (?:a )?(?:new )?home for my|(?:make sure|please make sure|someone please) "
          r"(?:[a-z']+ ){0,2}?(?:feeds|feed|gets fed|is fed|walks|looks after|takes care of|waters)"
          r"|make sure [a-z']+ (?:gets|is) (?:fed|walked|looked after|taken care of)"
          r"|(?:take|taking|look|looking) (?:care of|after) my (?:[a-z']+ ){0,2}?(?:cat|dog|pets?|plants|kids|fish|bird"
          r"|rabbit|hamster)|(?:give|gave|giving) my (?:cat|dog|pets?|bird|fish|rabbit) to|please (?:feed|walk) my"
          r"|(?:made|make|making) sure my (?:pets?|cat|dog|animals) (?:have|has|will have) (?:somewhere|a home|a place)",
          "home sure please care after give gave giving",
          unless=r"<SHORT_STAY>|<REHOME_REASON>",
          final_severity=HIGH),
    _rule("cssrs.behavior.rehome", _BEHAVIOR, LOW,
          r"(?:(?:rehomed|rehoming|rehome|handed over|handing over|hand over|signed over|gave up|giving up|give up) (?:my|our) "
          r"<PET>|(?:left|leaving|leave|dropped|dropping|dropped off) (?:my|our) <PET> (?:with|at))",
          "rehom hand signed gave giving give left leaving leave dropp",
          unless=r"<SHORT_STAY>|<REHOME_REASON>", final_severity=HIGH),
    _rule("cssrs.behavior.when_gone", _BEHAVIOR, HIGH,
          r"(?:when|after|once) i'm (?:gone|dead|not here|not around)|(?:i'm|i am|i'll be|i will be|i'll already be) "
          r"(?:already )?gone(?=[.!,]|$| by| when| before| and)",
          "gone dead not here not around"),
    _rule("cssrs.behavior.last_entry", _BEHAVIOR, MODERATE,
          r"(?:this is|it's|here's|this'll be) (?:my )?(?:last|final) (?:journal )?(?:entry|post|message|note|words)"
          r"|(?:my )?(?:last|final) (?:journal )?(?:entry|post|message)|last thing i'll (?:ever )?write"
          r"|(?:won't|will not|wont) be writing (?:here )?(?:anymore|again)",
          "last final writing",
          unless=r"(?:of|for|in) (?:the|this) (?:year|month|week|notebook|journal|diary|trip|semester)|of 20\d\d"
                 r"|before (?:my|the|i)|notebook is full|new (?:journal|notebook|diary|one)|starting (?:a )?new|until"
                 r"|for now|for a while|for today|on this app",
          final_severity=HIGH),
    _rule("cssrs.behavior.goodbye", _BEHAVIOR, MODERATE,
          r"(?:goodbye|bye|farewell) (?:everyone|all|world|cruel world|to (?:everyone|all|you all))"
          r"|(?:saying|said|say) (?:my )?goodbyes?(?: [a-z']+){0,2}? (?:to (?:everyone|people|the people)|now|quietly"
          r"|without)|said my goodbyes|goodbye(?=[.!]+(?: |$)|$)|saying goodbye now",
          "bye farewell", unless=_ORDINARY_GOODBYE, final_severity=HIGH),
    # A goodbye that is meant as the last one.
    _rule("cssrs.behavior.final_goodbye", _BEHAVIOR, HIGH,
          r"this is (?:goodbye|farewell)|(?:good)?bye forever|goodbye for good"
          r"|(?:won't|wont|will not|never) (?:see|talk to|hear from) (?:you|u|y'all|ya) (?:guys |all )?again"
          r"|(?:cya|c ya) never|(?:good ?night|gn|nite) (?:forever|for good)"
          r"(?: (?:guys|all|everyone|y'all|yall|friends))?(?: (?:this time|for real|fr))?(?! [a-z])",
          "bye farewell again never forever good",
          # Someone else's post, an old thing sold, or exams over.
          unless=_ORDINARY_GOODBYE + r"|posted|instagram|facebook|tiktok|twitter|caption|my old [a-z]+|sold"
                 r"|exams?|finals|a ?levels|levels|school|uni"
                 # Or addressed to someone the writer is cutting off.
                 r"|block(?:ed|ing)?|creep|loser|weirdo|my ex"),
    # "remember me ok? bye": a bye that ends the text, after the writer asked to be remembered.
    _rule("cssrs.behavior.remember_me_bye", _BEHAVIOR, HIGH,
          r"(?:good)?bye(?= *[.!]*$)", "bye",
          unless=_ORDINARY_GOODBYE,
          only_after=r"(?<!do you )(?<!did you )(?<!do u )remember me(?! (?:when|as|at|in|for|by|from|to|on))"),
    _rule("cssrs.behavior.reading_this", _BEHAVIOR, MODERATE,
          r"(?:by the time|when) (?:you|anyone|someone|somebody) (?:reads?|finds?|sees?|gets) this"
          r"|if (?:you're|you are) reading this|if (?:anyone|someone|somebody|you) (?:ever )?finds? this"
          r"|(?:to )?(?:whoever|whomever) (?:reads|finds) this",
          "read this reads this reading this finds this find this sees this see this gets this",
          final_severity=HIGH),
    # A line of a note: a message for someone that their loved one's death is not on them.
    _rule("cssrs.behavior.tell_not_fault", _BEHAVIOR, HIGH,
          r"tell (?:my |our )?(?:mom|mum|dad|mother|father|sister|brother|wife|husband|partner|kids|son|daughter|[a-z]+) "
          r"(?:that )?(?:it (?:wasn't|wasnt|was not|isn't|isnt|is not)|none of (?:this|it) (?:is|was)) "
          r"(?:her|his|their|your|ur) fault(?= *(?:[.!]|$))"
          r"|make sure (?:[a-z']+ ){1,2}knows? (?:that )?it (?:wasn't|wasnt|was not|isn't|isnt) (?:because of|on) "
          r"(?:her|him|them|you|u)(?= *(?:[.!]|$))",
          "fault knows know"),
    _rule("cssrs.behavior.not_your_fault", _BEHAVIOR, MODERATE,
          r"(?:it's|it is|it was|it wasn't|was never|wasn't ever|is not|isn't|it was never) (?:not )?(?:your|anyone's"
          r"|her|his|their|mom's|mum's|dad's) fault"
          # Ended there, or about the writer: "that the cake burned" is an everyday mishap.
          r"(?= *(?:[.!,;:)]|$)| (?:that )?(?:i|i'm|im|i've|this|it|what|how|and|ok|okay)(?![a-z]))"
          r"|(?:don't|do not|please don't) blame (?:yourselves|yourself|anyone)"
          r"|none of (?:this|it) (?:is|was) (?:on|because of) (?:you|him|her|them)"
          r"|(?:you|he|she|they) (?:couldn't|could not|could never) have (?:stopped|prevented|changed) (?:this|it)",
          "fault blame none could", negatable=False),
    _rule("cssrs.behavior.wont_hear", _BEHAVIOR, HIGH,
          r"(?:you|you all|they|anyone|nobody) (?:won't|will not|will never|wont) (?:hear from|see) me (?:again|anymore)"
          r"|goodbye forever|never see me again",
          "hear see forever", negatable=False,
          # "I'm not saying goodbye forever, just for a year": the negation is outside the match.
          unless=r"(?:not|n't) (?:saying |a |an |be )?goodbye forever"),
    _rule("cssrs.behavior.thanks_all", _BEHAVIOR, LOW,
          r"(?:thank you|thanks) (?:so much )?for (?:everything|all of it|being there|listening|being the only)",
          "thank", final_severity=MODERATE),
    _rule("cssrs.behavior.sorry_all", _BEHAVIOR, LOW,
          r"sorry (?:for everything|for all the (?:trouble|pain)|for being (?:a burden|like this|this way)|to everyone)"
          r"|sorry i couldn't (?:be better|do better|stay|be stronger)",
          "sorry", final_severity=MODERATE),
    _rule("cssrs.behavior.love_all", _BEHAVIOR, LOW,
          r"i love (?:you all|you guys|all of you|everyone)|i love you(?=[.!]|$)|tell (?:[a-z']+ ){0,3}?i love (?:him|her|them|you)"
          r"|tell (?:mom|mum|dad|my [a-z']+) (?:it wasn't|i'm sorry)",
          "love tell", final_severity=MODERATE),
    _rule("cssrs.behavior.peace", _BEHAVIOR, MODERATE,
          r"finally at peace|don't be sad for me|(?:don't|do not) (?:cry|grieve|mourn) for me|take care of each other"
          r"|made my peace with (?:it|dying|this|everything)|while i still can"
          r"|left (?:the|my) keys with|(?:written|wrote|writing) to (?:mum|mom|dad|my [a-z]+|everyone)",
          "peace sad cry grieve mourn each still keys written wrote writing",
          # Keys left for a neighbour who minds the house or the pets while the writer travels.
          unless=_ORDINARY_GOODBYE + r"|train|so (?:she|he|they|someone) can (?:feed|water|walk|check|let)"
                 r"|while (?:i'm|i am|we're|we are) (?:away|gone)"),
)

PSYCHOSIS_RULES = (
    _rule("psychosis.reference.messages", _PSYCHOSIS, MODERATE,
          r"(?:planets?|stars?|moon|sun|universe|cosmos|mercury|venus|mars|jupiter|saturn|pluto|neptune|uranus|cards?"
          r"|tarot|tv|television|radio|news|headlines?|songs?|numbers?|license plates?|plates|billboards?|receipts?"
          r"|anchor|people on the [a-z]+)[^.!?\n]{0,50}?(?:sending|send|sends|sent|giving|speaking|talking|whispering"
          r"|spelling out|telling|arranged|leaving)[^.!?\n]{0,50}?(?:only (?:for|to) me|meant (?:only )?for me"
          r"|for me alone|only i can|directly|personal|secret|coded|code|instructions?|orders?|commands?|about me"
          r"|my secrets|messages?|signals?|just for me)",
          "planet star moon sun universe cosmos mercury venus mars jupiter saturn pluto neptune uranus card tarot tv television radio news headline song number plate billboard receipt anchor people", negatable=False),
    _rule("psychosis.reference.meant_for_me", _PSYCHOSIS, MODERATE,
          r"(?:messages?|signs?|signals?|codes?|instructions?)[^.!?\n]{0,40}?(?:meant (?:only )?for me|only for me"
          r"|for me alone|just for me|only i can (?:see|read|hear|decode|understand))"
          r"|(?:secret|coded|hidden) (?:messages?|instructions?|signals?|codes?)(?: [a-z']+){0,4} (?:for|to) me",
          "message sign code instruction", negatable=False),
    _rule("psychosis.reference.aligned", _PSYCHOSIS, LOW,
          r"(?:planets?|stars?|moon|sun|universe|cosmos|numbers?|signs?)[^.!?\n]{0,30}?(?:lining up|lined up|aligning"
          r"|aligned|arranging|arranged|moving|falling into place)[^.!?\n]{0,20}?(?:only for me|just for me|for me alone"
          r"|for me and me alone|around me|because of me)",
          "planet star moon sun universe cosmos number sign", negatable=False),
    _rule("psychosis.reference.signs", _PSYCHOSIS, LOW,
          r"(?:planets?|stars?|moon|universe|cosmos|cards?|tarot)[^.!?\n]{0,30}?(?:sending|send|sends|speaking|talking"
          r"|telling|tells|whispering)[^.!?\n]{0,10}?me",
          "planet star moon universe cosmos card tarot", negatable=False),
    _rule("psychosis.reference.about_me", _PSYCHOSIS, MODERATE,
          r"(?:tv|television|radio|news|people|everyone|strangers|neighbou?rs|anchor)[^.!?\n]{0,40}?(?:talking|whispering"
          r"|laughing|reporting) (?:about|to) me|(?:headline|headlines|song|songs|everything) (?:is|are) about me",
          "talking whispering laughing reporting about", negatable=False),
    _rule("psychosis.thought_control", _PSYCHOSIS, MODERATE,
          r"(?:putting|put|inserting|planting|puts) thoughts (?:in|into) my (?:head|mind)|(?:reading|read|hear|hearing"
          r"|steal|stealing|broadcast(?:ing)?|control(?:ling)?) my thoughts|know(?:s)? what i'm thinking",
          "thoughts thinking", negatable=False),
    _rule("psychosis.persecution", _PSYCHOSIS, MODERATE,
          r"(?:watching|following|tracking|monitoring|spying on|poisoning|recording) me (?:through|via|with|from"
          r"|all the time|everywhere)|(?:government|cia|fbi|neighbou?rs|they)(?: [a-z']+){0,4} (?:are )?(?:watching"
          r"|following|tracking|monitoring|spying on|poisoning|reporting) (?:me|on me|to the)",
          "watching following tracking monitoring spying poisoning recording reporting", negatable=False),
    _rule("psychosis.voices", _PSYCHOSIS, MODERATE,
          r"(?:hear|hearing|heard) (?:the )?voices|the voices|voices (?:are |keep )?(?:telling|tell|told|say|saying"
          r"|whisper)|(?:hear|hearing|heard) (?:the )?(?:planets?|stars?|moon|universe|god|angels|spirits)"
          r"(?: [a-z']+){0,2} (?:talking|speaking|whispering|calling)|nobody else can hear (?:them|it)",
          "voices hear hearing heard", negatable=False),
    # The act must be aimed at the writer, so "told me to cut carbs" or "to end the meeting" is no command hallucination.
    _rule("psychosis.command_harm", _PSYCHOSIS, SEVERE,
          r"(?:(?:telling|commanding|ordering|told|tell|tells|want|wants|wanted|command|commands|order|orders|instructing"
          r"|instructed|urging|urges|urged) me |(?:(?:voices?|god|the devil|satan|demons?|angels?|spirits?|radio|tv"
          r"|television|walls|stars|moon|planets|cards|universe) (?:[a-z']+ ){0,2}?(?:says|say|said|saying|insists|insist|insisted"
          r"|insisting)|whispers|whispered|whispering|screams|screamed|screaming) (?:to me )?(?=that |i ))"
          r"(?:that )?(?:i (?:have|need|must|should|ought|am going|'m going|'ll have) )?(?:to )?<HARM_ORDER>",
          "tell told want command order instruct urg say said whisper insist scream", negatable=False),
    _rule("psychosis.grandiosity", _PSYCHOSIS, MODERATE,
          r"(?:i'm|i am|im) (?:the |a )?(?:chosen one|god|the messiah|a messiah|a prophet|the prophet|immortal|invincible"
          r"|the second coming|jesus|a genius)|chosen by (?:the )?[a-z]+ to (?:save|lead|heal)"
          r"|(?:meant|destined|chosen) to (?:save|lead|heal) (?:the world|humanity|everyone|a new)"
          r"|the chosen one|(?:can|could) (?:control|change|move|stop) (?:the )?(?:weather|tides|planets|stars|sun|traffic"
          r"|time)|(?:figured out|cracked|decoded|unlocked|discovered|writing) (?:the )?(?:code|secret|meaning|key)"
          r" (?:of|behind|to) (?:the (?:whole )?)?(?:universe|zodiac|everything|existence|reality)"
          r"|(?:prove|proves|proving) i'm chosen|everyone will see"
          r"|(?:has |have )?chosen me(?! (?:for|as) (?:the|a|an|their) (?:team|job|role|project|lead|class))",
          "chosen god messiah prophet immortal invincible second jesus genius meant destined weather tides planet star sun "
          "traffic time code secret meaning key everyone", negatable=False),
    _rule("psychosis.no_sleep", _PSYCHOSIS, LOW,
          r"(?:haven't|have not|hasn't|didn't|did not|havent) slept (?:[a-z']+ ){0,2}?(?:in|for) (?:<NUM> )?(?:days|nights)"
          r"|(?:no|without) sleep (?:for|in) <NUM> (?:days|nights)|(?:awake|up) (?:for|since) (?:<NUM> (?:days|nights)"
          r"|<DAY>)|(?:up|awake) (?:for )?<NUM> (?:days|nights) straight|haven't slept since",
          "slept sleep awake straight day night", negatable=False),
    _rule("psychosis.no_need_sleep", _PSYCHOSIS, MODERATE,
          r"(?:don't|do not|dont) need (?:to )?sleep|(?:don't|do not) need to(?=[.!]|$)", "need", negatable=False),
    _rule("psychosis.mania", _PSYCHOSIS, LOW,
          r"racing thoughts|thoughts (?:are |keep )?racing|(?:ideas|thoughts) (?:are )?coming faster|talking (?:so |too )?fast"
          r"|spent (?:all|every penny of) my (?:savings|money|rent)|maxed out (?:my|all my) (?:credit )?cards?"
          r"|bought (?:two|three|four|five|\d+) (?:cars|houses)|feel (?:amazing|incredible|unstoppable|limitless)",
          "racing faster fast spent maxed bought amazing incredible unstoppable limitless", negatable=False),
)

SUBSTANCE_RULES = (
    _rule("substance.alcohol.pattern", _SUBSTANCE, MODERATE,
          r"(?:drink|drinking|drank) (?:[a-z']+ ){0,3}?(?:every (?:night|day|morning)|all day|alone|to (?:cope|sleep"
          r"|forget|numb|feel|get through|fall asleep|stop)|again|heavily|too much|most nights)"
          r"|(?:drunk|wasted|hammered) (?:again|every (?:day|night)|all the time)"
          r"|(?:drinking|drunk) (?:[a-z']+ ){0,2}?(?:since|every)"
          r"|(?:can't|cannot) (?:stop|quit) drinking|(?:can't|cannot) (?:get through|face) the day without"
          r"|my drinking|hiding (?:bottles|alcohol|booze|the bottles)|(?:need|needs) (?:a|another) drink"
          r"|(?:bottle|fifth|handle) of (?:wine|vodka|whiskey|whisky|gin|rum|tequila|bourbon) (?:a day|every|each|by myself"
          r"|alone|just)|(?:drank|finished|downed) (?:a |the |most of a )?(?:whole )?(?:bottle|fifth|handle)",
          "drink drank drunk wasted hammered bottle fifth handle"),
    _rule("substance.alcohol.harm", _SUBSTANCE, HIGH,
          r"blacked out|black out|blacking out|blackout|the shakes|hungover|hangover|woke up on (?:my|the) [a-z]+ floor",
          "black shakes hung hangover floor"),
    _rule("substance.drugs.use", _SUBSTANCE, MODERATE,
          r"(?:did|doing|do|took|taking|take|snorted|snorting|smoked|smoking|shot|shooting|popped|popping|using|used|on"
          r"|high on|dropped|dropping|started) (?:[a-z']+ ){0,2}?(?:coke|cocaine|meth|crystal|heroin|fentanyl|fent|oxy"
          r"|oxys|percs|xanax|xans|bars|benzos?|pills|molly|mdma|ecstasy|ketamine|acid|lsd|shrooms|weed|pot|edibles"
          r"|opioids|painkillers|pain pills|adderall|speed|crack|dope)"
          r"|(?:did|doing) lines|(?:high|stoned|wasted|tweaking|faded)(?: [a-z']+){0,2} (?:every day|all day|again"
          r"|all the time|for [a-z]+ days|almost every day|three days|days straight)"
          r"|using (?:again|to (?:cope|numb|stop|forget|feel|get))|been using|started using|keep using",
          "coke cocaine meth crystal heroin fentanyl fent oxy percs xanax xans bars benzo pills molly mdma ecstasy "
          "ketamine acid lsd shrooms weed pot edibles opioids painkillers adderall speed crack dope lines high stoned "
          "tweaking faded using",
          unless=r"pharmacy|pharmacist|chemist|disposal|dispose|take ?back|drop ?off point|returned (?:them|the)"
                 # Medicine taken as prescribed ("took my pills with breakfast like usual").
                 r"|like (?:the|my) (?:doctor|gp|nurse|pharmacist) (?:said|told me|says)|as prescribed|prescription"
                 r"|with (?:breakfast|lunch|dinner|food|water)|like (?:usual|always|every (?:day|morning|night))"
                 r"|every (?:morning|evening|night)|vitamins"),
    _rule("substance.relapse", _SUBSTANCE, HIGH,
          r"relapsed|relapse|(?:months?|years?|days?|weeks?) (?:clean|sober)(?! and)",
          "relapse clean sober",
          unless=r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a|an) (?:years?|months?) (?:clean|sober) "
                 r"(?:today|now|this)"),
    _rule("substance.misuse", _SUBSTANCE, HIGH,
          r"(?:more|extra) (?:of )?(?:my )?(?:[a-z']+ ){0,2}?(?:pills|xanax|meds|medication|painkillers|pain pills|adderall"
          r"|benzos) than (?:i'm supposed to|prescribed|my prescription|i should|the prescription)"
          r"|(?:extra|more) (?:xanax|benzos|painkillers|pills) (?:to|than)"
          r"|(?:mixing|mixed|mix) (?:[a-z']+ ){0,2}?(?:benzos|xanax|pills|meds|sleeping pills) (?:with|and) "
          r"(?:(?:a|half a|most of a|a whole|half|most of) (?:bottle|glass|can) of )?(?:wine|alcohol|vodka|booze|drinks|beer"
          r"|whiskey|gin|rum|tequila)|comedowns?",
          "than extra mixing mixed mix comedown"),
)

DISTRESS_RULES = (
    _rule("distress.hopeless", _DISTRESS, MODERATE,
          r"(?:feel|feeling|felt|am|i'm|im|so|completely|totally|utterly) (?:so |completely |totally |utterly |really |very "
          r"|just |such |pretty )*(?:hopeless|worthless|empty|numb|useless|helpless|broken|defeated|trapped|alone|lonely"
          r"|dead inside)",
          "hopeless worthless empty numb useless helpless broken defeated trapped alone lonely dead"),
    _rule("distress.no_future", _DISTRESS, MODERATE,
          r"(?:don't|do not|can't|cannot|cant|dont) see (?:a|any) future (?:for (?:me|myself)|ahead)"
          r"|(?:there's|there is) no future for me|i have no future",
          "future",
          # A future in a job, a relationship or a place is not the writer's own.
          unless=r"(?<![a-z])(?:job|company|firm|career|role|team|relationship|with (?:him|her|them)|here in|this (?:town"
                 r"|city|country|industry|field)|in (?:this|that) (?:job|company|town|city|industry))(?![a-z])"),
    _rule("distress.indifferent", _DISTRESS, MODERATE,
          r"(?:don't|do not|dont) (?:really |even )?care (?:anymore )?(?:what happens to me|what happens(?= *(?:[.!]|$))"
          r"|whether i wake up)",
          "care"),
    _rule("distress.cant_cope", _DISTRESS, MODERATE,
          r"(?:can't|cannot|can no longer|cant) (?:take|handle|do|bear|stand) (?:this|it|any ?more|much more)"
          r"(?: any ?more)?|(?:can't|cannot|cant) anymore",
          "can", negatable=False),
    _rule("distress.cant_go_on", _DISTRESS, HIGH,
          r"(?:can't|cannot|cant|don't know how much longer i can) (?:go on|keep going|keep doing this"
          r"|keep living like this|keep it together)",
          "can't cant cannot much longer", negatable=False),
    _rule("distress.self_hate", _DISTRESS, MODERATE, r"(?:hate|hating|loathe|despise) myself", "myself"),
    _rule("distress.not_eating", _DISTRESS, MODERATE,
          r"(?:haven't|have not|havent|didn't|can't) (?:eaten|eat) (?:properly |well |at all )?(?:in|for) "
          r"(?:<NUM> )?days",
          "days", negatable=False),
    _rule("distress.not_sleeping", _DISTRESS, MODERATE,
          r"(?:haven't|have not|havent|didn't|can't) (?:slept|sleep) (?:properly |well |at all )?(?:in|for) "
          r"(?:<NUM> )?days",
          "days", negatable=False),
    _rule("distress.burden", _DISTRESS, HIGH,
          r"(?:i'm|i am|im|feel like|feeling like|being) (?:such )?(?:a|an) (?:complete |total |huge )?(?:burden)",
          "burden"),
    # "I don't want to keep hurting everyone" states the burden, so negation does not cancel it.
    _rule("distress.hurting_others", _DISTRESS, HIGH,
          r"(?:keep|keeps|keeping) hurting (?:everyone|the people|people)", "hurting", negatable=False),
    _rule("distress.failure", _DISTRESS, MODERATE,
          r"(?:i'm|i am|im|feel like|feeling like) (?:such )?(?:a|an) (?:complete |total |huge |absolute )?(?:failure"
          r"|disappointment|waste of space|mistake)",
          "failure disappointment waste mistake"),
    _rule("distress.crying", _DISTRESS, MODERATE,
          r"(?:can't|cannot|couldn't|cant) stop (?:crying|shaking|sobbing)|crying (?:all day|every night|for hours"
          r"|for no reason|at my desk|myself to sleep|alone)|cried (?:all day|for hours|at my desk|in the car"
          r"|myself to sleep)|keep crying",
          "crying shaking sobbing cried", negatable=False),
    _rule("distress.panic", _DISTRESS, MODERATE, r"panic attacks?|can't breathe", "panic breathe"),
    _rule("distress.no_way_out", _DISTRESS, HIGH,
          r"(?:no|can't see a|cannot see a|can't see any|there's no|don't see (?:a|any|another)) (?:way out|way through"
          r"|other way|way forward)|only way out",
          "way out way through other way way forward", negatable=False),
    _rule("distress.nothing_matters", _DISTRESS, MODERATE,
          r"nothing (?:matters|means anything|feels real|helps)|(?:everything|it all|life) (?:feels|is|'s|seems) "
          r"(?:pointless|meaningless|hopeless)|what's the point(?: of (?:anything|any of it|trying|it all))?",
          "nothing pointless meaningless hopeless point", negatable=False),
    _rule("distress.falling_apart", _DISTRESS, MODERATE,
          r"falling apart|crashing down|broken me|(?:i'm|i am) drowning(?! in (?:work|emails|laundry|paperwork))",
          "falling crashing broken drowning"),
    _rule("distress.uncared", _DISTRESS, MODERATE,
          r"(?:no one|nobody|noone) (?:cares|would care|understands|gets it|listens|cares what happens to me)",
          "care understands gets listens", negatable=False),
    _rule("distress.give_up", _DISTRESS, MODERATE,
          r"i give up(?=[.!,]|$| on)|giving up on (?:everything|life|myself)|(?:so )?(?:tired|sick) of (?:everything"
          r"|it all|trying|fighting)|(?:i'm|i am|im) (?:so )?done(?= fighting| trying| with (?:everything|it all|life)|[.!]*$)",
          "give giving tired sick done"),
    _rule("distress.anhedonia", _DISTRESS, MODERATE,
          r"(?:don't|do not) (?:enjoy|care about) anything|(?:can't|haven't been able to|couldn't) get out of bed",
          "anything bed", negatable=False),
    _rule("distress.worry", _DISTRESS, MODERATE,
          r"(?:so|really|extremely|sick with) (?:worried|scared|terrified)|worried sick|terrified|so helpless",
          "worried scared terrified helpless"),
    _rule("distress.strain", _DISTRESS, LOW,
          r"overwhelmed|exhausted|so anxious|can't sleep|too much(?= and| to handle|[.!]|$)"
          r"|barely leave",
          "overwhelmed exhausted anxious can't sleep too much barely"),
)

# Cues for languages the scorer does not support. They do not make such text supported.
# First-person crisis phrases of 22 languages are in crisis_lexicon.py.
FOREIGN_RULES = (
    _rule("crosslang.ideation.word", _IDEATION, MODERATE, r"suicid[a-z]*|suizid[a-z]*", "suicid suizid",
          foreign_only=True, negatable=False),
    _rule("crosslang.farewell", _BEHAVIOR, LOW, r"adios|adieu|adeus|addio|tschuss|vaarwel",
          foreign_only=True, negatable=False),
)

RULES = SUICIDE_RULES + PSYCHOSIS_RULES + SUBSTANCE_RULES + DISTRESS_RULES + FOREIGN_RULES

# Idioms and fixed phrases: a signal whose span overlaps one of these is dropped.
IDIOMS = re.compile(_expand(
    r"(?<![a-z])(?:"
    r"die (?:of|from) (?:embarrassment|shame|boredom|laugh[a-z]*|cuteness|happiness|excitement|cringe|heat|thirst"
    r"|hunger|jealousy|envy|curiosity)"
    r"|(?:die|died|dying|dies) laughing|(?:kill|killed|killing) my ?self laughing|nearly died|almost died"
    r"|unaliv(?:e|ed|ing) (?:my|the|this|that|your|his|her) (?!self|life)[a-z]+"
    # The word itself as a subject of talk: "unalive is such a weird word", "the word unalive".
    r"|unalive[\"']? (?:is|was|as) (?:a|an|such a|the|just a|kind of a) (?:[a-z']+ ){0,3}?(?:word|term|euphemism|slang"
    r"|phrase|thing to say)|(?:the|that|this) (?:word|term|euphemism|slang) [\"']?unalive"
    r"|(?:saying|say|says|said|write|writing|writes|use|using|uses|used) [\"']?unalive[\"']? (?:instead of|for|because|in place of)"
    r"|could (?:just |have )?(?:die|died)(?= of| from| laughing| happy| right| on the spot|[.!,]|$)"
    r"|dying (?:to|for)|to die for|(?:scared|bored|sick|worked|worried|frozen|tickled) to death|death of me"
    r"|kill(?:ing|ed|s)? (?:it|time)(?![a-z])|kill for|killing my ?self (?:at|over|for|with|to|trying|working|studying|on)"
    r"|shoot myself in the foot|(?:suicide|suicidal) (?:squad|mission|doors?|runs?|sprints?|burn|prevention|awareness"
    r"|bomber|pact film)|(?:social|career|political|commercial|financial) suicide"
    # Dying as the price of one more of something ("if i have to sit through one more meeting i'm gonna die").
    r"|if i (?:have to|gotta|need to|hear|see|get|do) (?:[a-z']+ ){0,8}?(?:one more|another|again) (?:[a-z']+ ){0,6}?"
    r"(?:i'm|im|i am|i'll|ill|i will) (?:gonna |going to |literally |actually )?die"
    # "kms" before a trivial annoyance, as after one ("kms this wifi is so slow").
    r"|kms,? (?:(?:lol|lmao|omg|bruh|ugh|fr) )?(?:this|my|the|these|our) (?:[a-z']+ ){0,2}?(?:homework|wifi|internet|code"
    r"|printer|laptop|computer|phone|exam|test|quiz|essay|assignment|class|lecture|meeting|traffic|bus|train|queue"
    r"|game|level|boss|project|email|emails|zoom|spreadsheet|excel|maths?|calc|chem|physics|alarm|weather|rain|heat"
    r"|shift|commute|group chat|teacher|professor|coworker|deadline|paperwork|taxes|laundry|dishes|hangover)"
    # Self-harm as the subject of a campaign or a course: "self-harm awareness week".
    r"|self ?harm (?:awareness|prevention|training|module|policy|policies|workshop|charity|research|statistics|rates?"
    r"|lecture|seminar|course|guidelines|protocol|campaign|week|month|day)"
    # Suicide as a subject of study: "Durkheim's theory of suicide", "suicide risk factors".
    r"|(?:theory|theories|lecture|seminar|module|essay|research|statistics|stats|risk factors|rates?)"
    r" (?:of|on|about|into) (?:[a-z'-]+ ){0,3}?suicide|suicide (?:risk factors?|rates?|statistics|stats|research|studies|literature)"
    r"|ego death|death card|the death|ctb (?:bus|route|line|station|stop)"
    # Shadow work and rebirth: an old self that dies so that a new one can grow.
    r"|(?:old|former|past|previous) (?:version|versions|self|selves|me|identity) (?:of (?:me|myself) )?(?:die|dies|died|dying)"
    r"(?= so| to make| and (?:a|the) new| for (?:a|the) new|[.!,]|$)"
    r"|end it (?:with|between) (?:him|her|them|my|us)|cut myself (?:some slack|a break|a slice|a piece|shaving|while|on"
    r"|by accident|accidentally|chopping)|hurt myself (?:at|lifting|running|playing|skiing|while|on|in|during|working)"
    r"|(?:hang|hanging|hung) myself (?:up )?(?:a|an|some|another) (?:[a-z]+ ){0,2}?(?:picture|frame|shelf|shelves|mirror"
    r"|hammock|poster|painting|print|curtains?|clock|lamp|photo|hook|swing|plants?|wreath|lights|canvas|sign|flag|tv"
    r"|blinds?|rail|calendar|map|tapestry)s?"
    r"|(?:one more|1 more|another) (?:[a-z']+ ){0,3}?(?:meeting|email|call|zoom|spreadsheet|ad|advert|episode"
    r"|customer|lecture|exam|assignment|essay|reply all|group project|presentation|report|form|ticket|update"
    r"|announcement|delay|chorus|jingle|pop ?up|captcha|password reset|invoice|timesheet|standup|stand up)s?"
    r"(?: [a-z']+){0,4}?(?: and|,| &)? (?:i'll|i will|ill|i'm gonna|im gonna|i'm going to|i am going to|i swear i'll"
    r"|imma|i'ma) (?:shoot|kill|hang|strangle|off|unalive) myself"
    r"|(?:i'm|im) dead(?= tired| serious|[ .!]*(?:lol|lmao|haha|\U0001f480|\U0001f602))"
    r"|unaliv[a-z]* (?:this|that|these|those|the|a|an|his|her|their|your|our)(?= [a-z])"
    r"|(?:unalived|killed|kms'?d) (?:myself|me) (?:[a-z0-9]+ )?(?:times|x)"
    r"|(?:is|are|was|were|keeps|keep) unaliving me"
    # Believable denials: "suicide has never crossed my mind", a question answered no.
    r"|suicid[a-z]* (?:thoughts? )?(?:has|have|had) never (?:once )?(?:crossed|entered|been on) my mind"
    r"|asked (?:me )?(?:if|whether) i (?:want|wanted) to die,? (?:and )?i (?:said|told (?:her|him|them)|answered) no"
    r"|asked (?:me )?(?:if|whether) i(?:'d| had| have)? (?:ever )?(?:thought (?:about|of)|had (?:any )?thoughts (?:of|about)"
    r"|considered) (?:suicide|killing myself|ending my life|dying|hurting myself)(?: [a-z']+){0,3}?,? (?:and )?i"
    r" (?:said|told (?:her|him|them)|answered) no"
    r"|(?:kms|kys) (?:this|these|the|over (?:this|these|the))(?= [a-z]+ (?:homework|exam|essay|deadline|assignment"
    r"|quiz|test|class|lecture|shift|meeting|game|level|match|traffic|queue|commute|song|episode|questions|pages))"
    r"|(?:homework|exam|essay|deadline|assignment|class|meeting|traffic|commute|boss|game|test|quiz|shift|calc|math"
    r"|maths|chem|physics|lecture|queue|wifi|printer) (?:is|are) killing me,? (?:lol |lmao |ngl |fr |tbh )?k[my]s"
    r"|(?:gonna|going to|will|i'll|ill|might|about to) (?:just )?k[my]s if (?:[a-z']+ ){0,5}?"
    r"(?:essay|exam|homework|assignment"
    r"|deadline|extension|game|match|teacher|lecture|class|quiz|test|boss|meeting|shift|wifi|traffic|printer|queue)"
    r"|overdos(?:e|ed|ing) on (?:christmas |easter |birthday )?(?:chocolate|sugar|caffeine|coffee|carbs|cheese|cake"
    r"|sweets|candy|netflix|tv|telly|sun|vitamin [a-z]|kindness|nostalgia|memes)"
    r")(?![a-z])"))

# Emoji. Variation selectors are removed by folding, so single code points suffice.
METHOD_EMOJI = "\U0001f52b\U0001f52a\U0001f48a\U0001faa2\U0001fa78\U0001fa92"  # pistol, knife, pill, knot, blood, razor
DEATH_EMOJI = "\U0001faa6\u26b0\u26b1\u2620"  # headstone, coffin, urn, skull and crossbones
WAVE_EMOJI = "\U0001f44b"
BLOOD_EMOJI = "\U0001fa78"  # drop of blood
LAUGH_EMOJI = "\U0001f602\U0001f923\U0001f606\U0001f605\U0001f480"


# Safety net lexicon --------------------------------------------------------------
#
# Broad cue words that the scorer uses as a floor under the score (see
# scorer._safety_net). The phrase rules above miss oblique wording, so these
# patterns are looser: a cue alone only keeps a text out of clear, and the floor
# reaches critical only when cues of two different kinds meet. Each pattern is
# bounded like the rules, so it runs in linear time.

# Words after "die" that make it hyperbole or an idiom ("I'd die for a coffee").
_DIE_IDIOM_TAIL = (r"(?! (?:for|of|from|laughing|happy|inside|on the spot|a little|trying|than|if i (?:don't|have to|miss)"
                   r"|(?:my|her|his|the|it) (?:hair|beard|fringe|roots|eyebrows|shirt|jeans|clothes)|it (?:pink|blue|red"
                   r"|green|purple|black|blonde|back))"
                   r"(?![a-z]))")

# Death, dying and self-harm about the writer: the gate of the net.
NET_DEATH = _compile(
    r"(?:i|to|me|i'd|i'll|ill|gonna|wanna|let me|could|should|would|might|will|and|just|rather|soon|finally|can)"
    r" (?:just |finally |simply |quietly |peacefully |already )?(?:die|be dead|stop existing|cease to exist|not exist"
    r"|stop breathing|not wake up|never wake up|disappear|vanish|not be here|not be around|no longer be here"
    r"|be gone|fade away|stop living|end it|end things|end everything|end it all|end my life|end myself|go to sleep forever)"
    + _DIE_IDIOM_TAIL +
    r"(?! (?:for|into|to|on|from|in|with|under|behind|at|and (?:come back|reappear))(?![a-z]))"
    r"|(?:want|wanna|wish|hope|just|to|i'd like to) (?:just )?sleep forever"
    r"|(?:sleep|bed) and (?:not|never) wake up|(?:don't|dont|do not) (?:want|wanna) to wake up(?! (?:early|at|for))"
    r"|(?:my|own) (?:death|funeral|suicide|grave|obituary|eulogy|last breath)"
    r"|(?:death|dying|suicide|the void|nonexistence|not existing|oblivion) (?:is|sounds|seems|feels|looks|would be|'d be)"
    r"(?: like)? (?:[a-z']+ ){0,2}?(?:peaceful|nice|better|good|easier|appealing|tempting|a relief|relief|the answer"
    r"|the only|welcome|inviting|like rest|freedom|kind|calling|a gift|merciful)"
    r"|(?:welcome|welcoming|crave|craving|long for|longing for|ready for|waiting for|thinking about|think about"
    r"|dream about|dreaming about|dreaming of|fantasi[sz]e about|fantasi[sz]ing about|romanticising|romanticizing)"
    r" (?:my )?(?:death|dying|the end|the void|nonexistence|not existing|oblivion|eternal sleep|sleeping forever"
    r"|not being here|not being around|being gone)"
    r"|(?:kill|killing|off|offing|end|ending|delete|deleting|yeet|hang|hanging) myself|(?<![0-9] )(?<![0-9])kms|ctb|unaliv[a-z]*"
    r"|sewer ?slide|game end|self ?delet[a-z]*|rope myself|roping|take my (?:own )?life|taking my (?:own )?life"
    r"|catch the bus|final exit|check out (?:early|for good|permanently)|(?:log|clock) off (?:for good|forever|permanently)"
    r"|suicid(?:e|al)|(?:cut|cutting|burn|burning|burned|burnt|hurt|hurting|harm|harming|scratch|scratching) myself"
    r"|self ?harm[a-z]*|(?:cut|cutting|slit|slash) my (?:arms?|wrists?|thighs?|legs?|skin|throat)|fresh (?:cuts|scars)"
    r"|(?:sh|self harm|cutting|burning) (?:urges|again|relapse|scars)"
    r"|how (?:quick|quickly|easy|easily|fast|simple|painless) it (?:would|could|'d|will|might) (?:be|all be|end)|relapsed (?:on|into) (?:sh|self ?harm)|(?:urge|urges) to (?:cut|sh|burn)"
    r"|(?:be|am|i'm|im|being|such) (?:a |the )?burden|burden (?:to|on) (?:everyone|them|you|my [a-z]+)"
    r"|(?:better|happier|easier|lighter) (?:off )?without me|(?:world|life|lives) (?:is |would be )?(?:better )?without me"
    r"|(?:nobody|no one|noone) (?:would|will|'d) (?:even )?(?:miss|notice|care)"
    r"|(?:won't|will not|wont|not going to|not gonna) be (?:here|around|alive|a problem|a burden)"
    r"(?: [a-z']+){0,2}? (?:much longer|for long|anymore|any more|soon|by|after|next|tomorrow)"
    r"|(?:not|no longer) (?:be )?(?:here|around|alive) (?:much longer|for long|by|next (?:week|month|year)|tomorrow)"
    r"|(?:i'll|i will|i'm|i am|im) (?:be )?(?:gone|dead)(?= ?[.!,]|$| (?:soon|by|before|when|after|tonight|tomorrow|forever))"
    r"|(?:when|after|once) i'm (?:gone|dead|not here|not around)"
    r"|(?:i'm|im|i am) (?:so |just |finally |completely |really ){0,2}done(?= ?[.!]|$| (?:with (?:life|living|everything|it all"
    r"|existing|this world|being alive)|for good|forever))"
    r"|(?:can't|cannot|cant) (?:do|take) (?:this|it|life) (?:any ?more|any longer)|(?:can't|cannot|cant) go on"
    r"|no (?:reason|point) (?:to|in) (?:stay|staying|live|living|go on|going on|be here|being here)"
    r"|join (?:grandma|grandpa|mum|mom|dad|my [a-z]+|them|him|her) (?:in heaven|on the other side|soon|up there)"
    r"|the other side soon|see (?:grandma|grandpa|mum|mom|dad|my [a-z]+) again soon"
    r"|jump(?:ing)? off|walk(?:ing)? into (?:traffic|the sea|the ocean|the river|the lake)"
    r"|(?:let|letting) (?:myself|me) (?:drown|fall|go|sink)(?= ?[.!,]|$| for good| forever)|drown myself")

# Words of wish, intent or readiness; with a death cue in the same sentence the floor is caution.
NET_WISH = _compile(
    r"want|wants|wanted|wanna|wish|wishing|hope|hoping|pray|praying|ready|going to|gonna|will|i'll|ill|plan|planning"
    r"|planned|decided|decide|about to|tempted|urge|urges|need to|have to|gotta|longing|long to|crave|craving"
    r"|can't wait|thinking|keep thinking|think about|imagine|imagining|rather|soon|finally|intend|intending|considering|let me"
    r"|i'd like to|time to|it's time|going through with|do it")

# Means of dying.
NET_MEANS = _compile(
    r"pills?|overdos[a-z]*|od|rope|noose|gun|pistol|rifle|shotgun|firearm|bridge|roof|rooftop|ledge|balcony"
    r"|(?:the|train|railway|rail) tracks|in front of (?:a|the) (?:train|bus|truck|car)|cliff|razors?|razor ?blades?"
    r"|blades?|knife|insulin|exhaust|carbon monoxide|charcoal|helium|bleach|jump|jumping|drown|drowning|hang|hanging"
    r"|slit|wrists?|traffic|sleeping (?:pills|tablets)|painkillers|tylenol|paracetamol|acetaminophen|antifreeze"
    r"|whole (?:bottle|pack|box)|(?:my|the) meds|medication|tablets|stockpil[a-z]*")

# Times and dates that set when.
NET_TIMING = _compile(
    r"tonight|tomorrow|this (?:weekend|week|friday|saturday|sunday|monday|tuesday|wednesday|thursday)"
    r"|on (?:<DAY>)|by (?:<DAY>|the end of (?:the )?(?:week|month))|next (?:week|<DAY>)"
    r"|(?:after|once|when) (?:the funeral|the wedding|christmas|new year|my birthday|exams|graduation|the holidays"
    r"|everyone (?:is|'s) asleep|they're asleep|the kids|they leave|she leaves|he leaves|payday|i finish)"
    r"|at (?:\d{1,2}(?::\d\d)? ?(?:am|pm)?|midnight|dawn|sunrise|sunset)|on the \d{1,2}(?:st|nd|rd|th)?"
    r"|in (?:a few|two|three|\d+) (?:days|hours)|soon|today|the date|the day|set a date|picked a date")

# Preparation and farewell acts.
NET_FAREWELL = _compile(
    r"my will|(?:wrote|written|writing|updated|made|signed) (?:a |my )?will|passwords?|(?:giving|gave|give|given) away"
    r"|rehom[a-z]*|new (?:home|owner|family) for|(?:letters?|notes?) (?:to|for) (?:everyone|my [a-z]+|mum|mom|dad|each)"
    r"|(?:wrote|writing|written|left|leave|leaving) (?:a |the |some |my )?(?:letters|goodbye|last) ?(?:notes?|letters?)?"
    r"|loose ends|who gets (?:what|my)|(?:saying|said|say) (?:my )?goodbyes?|goodbyes|goodbye|farewell|bye (?:everyone|world|all)"
    r"|(?:last|final) (?:entry|post|message|words|note|goodbye|letter)|sorry for everything|not your fault"
    r"|(?:don't|do not) blame (?:yourself|yourselves)|take care of (?:my|mum|mom|dad|the) [a-z]+|life insurance"
    r"|funeral (?:plans|arrangements|playlist|songs)|affairs in order|paid off|cancel(?:led|ed)? my"
    r"|deleted (?:all )?(?:my )?accounts|so (?:nobody|no one) has to|who (?:will )?finds? me|find my body"
    r"|(?:the )?last time i(?:'ll)?|one last (?:time|walk|look|visit|meal)|for the last time")

# Words that make a farewell or preparation final.
NET_FINALITY = _compile(
    r"forever|for good|permanently|for the last time|last|final|won't (?:need|see|be back|be coming back)"
    r"|not coming back|when i'm gone|after i'm gone|never see|is the (?:day|night)|(?:set|picked) (?:a|the) date")

# Sentences about games, sport and fiction, where dying is a game event ("I died to the boss").
NET_GAME_CONTEXT = _compile(
    r"boss|level|raid|game|gaming|respawn|match|round|quest|dungeon|speedrun|character|ranked|lobby|checkpoint"
    r"|hp|lives|minecraft|fortnite|elden|souls|zelda|mario|dnd|d&d|campaign|novel|story|plot|scene|episode|season"
    r"|movie|film|book|podcast|documentary|true crime|history|historical|century|battle|hike|marathon"
    r"|workout|tomatoes|plants|garden|cake|dessert|phone|battery|laptop",
    bounded=True)

# Ordinary reasons for a stay or a new home for a pet, which make rehoming no farewell.
NET_ORDINARY_REHOME = _compile(r"<SHORT_STAY>|<REHOME_REASON>", bounded=False)

