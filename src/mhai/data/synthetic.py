"""A seeded generator of a Reddit-format mental-health corpus (Pushshift-style NDJSON).

Everything here is written for this project; no real user text is used. The corpus mimics
what the prep must cope with in a real dump:

- threads in several support subreddits, posts composed from many topic-specific fragments
  (situation, details, feelings, what was tried, a question), so texts rarely repeat;
- comment trees: direct replies whose latent quality (empathy, specificity to the post,
  actionable suggestions, a question back, crisis resources when needed; or dismissive,
  judgmental, off-topic) drives their vote score, so preference pairs carry signal;
  nested replies (thanks from the poster, follow-ups);
- deleted/removed items, bot comments (AutoModerator, RemindMeBot), exact duplicate lines and
  reposted text, empty bodies, non-English items, a few malformed lines;
- crisis language of several kinds (direct, indirect, ambiguous, adversarial) and idioms;
- planted PII: u/usernames, @handles, e-mails, phone numbers, URLs, street addresses, names.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import zstandard

BASE_UTC = 1_546_300_800  # 2019-01-01


@dataclass
class Topic:
    """Fragments for one kind of post; ``noun`` lets replies refer back to the post."""

    noun: str
    titles: list[str]
    situations: list[str]
    details: list[str]
    tried: list[str]
    advice: list[str]


TOPICS: dict[str, Topic] = {
    "job": Topic(
        "losing your job",
        [
            "Lost my job {ago} and I can't get off the couch",
            "Got laid off and I feel like a complete failure",
            "{years} at the company and they let me go by email",
            "How do you keep going after being fired?",
        ],
        [
            "I was let go from my job at the {workplace} {ago}.",
            "My manager called me in on a Friday and told me my position was cut.",
            "After {years} at the same {workplace} I got a two-line email saying I was done.",
        ],
        [
            "Every rejection email makes it worse.",
            "I stopped telling my {relative} how the applications are going.",
            "My savings will last maybe {months} more.",
            "I keep replaying the last meeting with my boss in my head.",
            "I used to be good at what I did, or at least I thought so.",
        ],
        [
            "I tried applying to {count} places a day but it burned me out.",
            "I signed up for a course online but I can't focus on it.",
            "I tried to keep a routine for the first week and then it fell apart.",
        ],
        [
            "Set a small daily target, like two applications and one walk, and stop there.",
            "Check whether your area has a career centre; they often help with CVs for free.",
            "Tell one friend the truth about the job hunt, carrying it alone makes it heavier.",
            "Keep a list of the things you did well at work to read before interviews.",
        ],
    ),
    "breakup": Topic(
        "the breakup",
        [
            "My partner of {years} left and I don't know who I am anymore",
            "Breakup {ago}, still crying every night",
            "How long does it take to stop missing someone?",
            "She moved out {ago} and the apartment is so quiet",
        ],
        [
            "My partner ended our relationship {ago} after {years} together.",
            "We broke up {ago} and I still set two plates out of habit.",
            "The person I planned my whole future with told me they were done.",
        ],
        [
            "Everything in the flat reminds me of them.",
            "I check their profile even though I know it hurts.",
            "Our friends picked sides and most picked theirs.",
            "I haven't eaten a proper meal in {days}.",
            "I keep wondering what I could have done differently.",
        ],
        [
            "I deleted the photos but then I restored them.",
            "I tried going out with friends but left after an hour.",
            "I started journaling but it turns into letters to them.",
        ],
        [
            "Mute their profile for now; you can decide about it later when it hurts less.",
            "Plan something small for the evenings, that is when it usually hits hardest.",
            "Write down what you need from the next few weeks instead of what went wrong.",
            "Let a friend know the hard days in advance so they can check in.",
        ],
    ),
    "exams": Topic(
        "the exam pressure",
        [
            "Finals in {days} and I haven't slept properly in a week",
            "I failed another exam and my parents will find out soon",
            "University is crushing me",
            "Can't study, can't rest, just panic",
        ],
        [
            "I'm in my {ordinal} year of university and my exams start in {days}.",
            "I failed my statistics exam {ago} and the resit is coming up.",
            "My scholarship depends on my grades this semester.",
        ],
        [
            "I open my notes and my mind goes blank.",
            "My {relative} keeps asking about my grades.",
            "Everyone in my study group seems to be fine.",
            "I stay up until {hour} scrolling instead of sleeping.",
            "I feel sick every time I think about the results.",
        ],
        [
            "I tried making a timetable but I was behind on it by day two.",
            "I went to the library every day last week but got nothing done.",
            "I drank energy drinks to keep going and it made the panic worse.",
        ],
        [
            "Study in short blocks, twenty-five minutes on and five off, and count the blocks.",
            "Email your tutor or the student support office now, before the exam, not after.",
            "Sleep before an exam helps memory more than one more late night of reading.",
            "Ask the disability or wellbeing office whether you can get extra time or a resit.",
        ],
    ),
    "family": Topic(
        "things with your family",
        [
            "My family makes me feel worthless",
            "Fought with my {relative} again and I'm shaking",
            "Living at home is destroying my mental health",
            "Is it normal to dread going home?",
        ],
        [
            "I moved back in with my parents {ago} to save money.",
            "My {relative} criticises everything I do, from my job to my clothes.",
            "Every holiday with my family ends in a shouting match.",
        ],
        [
            "I spend most evenings in my room with headphones on.",
            "My siblings say I'm overreacting.",
            "When I try to explain how I feel I get told I'm ungrateful.",
            "I haven't told anyone outside the family how bad it is.",
            "I can hear them arguing through the wall right now.",
        ],
        [
            "I tried talking to my {relative} calmly and it turned into another fight.",
            "I started saving to move out but it will take {months}.",
            "I stay late at work so I don't have to be home.",
        ],
        [
            "Plan your exit step by step: a budget, a date, and one person who knows the plan.",
            "Find one place outside the house that is yours, a library, a gym, a friend's sofa.",
            "You can set limits on topics, for example leaving the room when it turns to insults.",
            "A counsellor can help you rehearse those conversations before you have them.",
        ],
    ),
    "loneliness": Topic(
        "feeling this alone",
        [
            "I haven't had a real conversation in {days}",
            "Moved to a new city and I have no one",
            "Does anyone else go whole weekends without talking to anybody?",
            "I'm {age} and I've never had a close friend",
        ],
        [
            "I moved to a new city for work {ago} and I don't know anyone here.",
            "My friends slowly drifted away after university.",
            "I work from home and some weeks the only person I talk to is the cashier.",
        ],
        [
            "Weekends are the worst part.",
            "I scroll through group chats that nobody posts in anymore.",
            "I rehearse conversations in my head that never happen.",
            "When I do see people I feel like I'm faking it.",
            "I eat dinner in front of the TV every night.",
        ],
        [
            "I joined a climbing gym but I didn't talk to anyone.",
            "I downloaded a friendship app and deleted it after a day.",
            "I tried a volunteering day and it was okay but I never went back.",
        ],
        [
            "Pick one weekly thing, a class or a club, and go three times before you judge it.",
            "Message one old friend with something specific, a memory or a photo, not just 'hey'.",
            "Volunteering on a regular shift makes it easier because you see the same faces.",
            "Small talk with the same barista or neighbour counts; it builds up over weeks.",
        ],
    ),
    "panic": Topic(
        "the panic attacks",
        [
            "Had my {ordinal} panic attack at work this week",
            "Panic attacks out of nowhere, I thought I was dying",
            "How do you calm down when your heart won't stop racing?",
            "Scared to leave the house because of panic attacks",
        ],
        [
            "I started getting panic attacks {ago}, usually on the train to work.",
            "Last night my chest got tight and my hands went numb and I was sure it was my heart.",
            "I had to leave a meeting because I couldn't breathe.",
        ],
        [
            "The doctor said my heart is fine, which should help but doesn't.",
            "Now I'm anxious about being anxious.",
            "I've started avoiding the supermarket.",
            "My {relative} thinks I should just relax.",
            "It happens most in crowded places.",
        ],
        [
            "I tried breathing apps but I panic about doing the breathing wrong.",
            "I cut out coffee for {days}.",
            "I carry water and mints everywhere now.",
        ],
        [
            "Try breathing out longer than you breathe in, for example in for four, out for six.",
            "Name five things you can see and four you can hear; it pulls attention outward.",
            "Ask your GP about CBT for panic, it has good evidence and is often short.",
            "Remind yourself the peak passes in minutes, even when it feels endless.",
        ],
    ),
    "sleep": Topic(
        "not sleeping",
        [
            "I haven't slept more than four hours a night in {days}",
            "Insomnia is making everything worse",
            "Lying awake at {hour} again",
            "Can't sleep, can't function",
        ],
        [
            "I've had trouble sleeping for {months}.",
            "Every night I lie awake until {hour} with my thoughts racing.",
            "I fall asleep fine but wake at 3am and can't get back.",
        ],
        [
            "I'm exhausted all day at work.",
            "I snap at people over nothing.",
            "Weekends I try to catch up and then I can't sleep on Sunday.",
            "My mind replays every awkward thing I ever said.",
            "I dread bedtime now.",
        ],
        [
            "I tried melatonin and it gave me weird dreams.",
            "I stopped using my phone in bed for a week.",
            "I tried sleep podcasts but I end up listening to all of them.",
        ],
        [
            "Get up at the same time every day, even after a bad night; it resets the rhythm.",
            "If you can't sleep after twenty minutes, get up and do something dull in dim light.",
            "Ask your doctor about CBT for insomnia, it works better than most pills long term.",
            "Write tomorrow's worries on paper before bed so your head does not have to hold them.",
        ],
    ),
    "grief": Topic(
        "your loss",
        [
            "My {relative} died {ago} and everyone expects me to be okay",
            "Grief hits me at the weirdest moments",
            "How do you live with losing someone?",
            "First birthday without my {relative}",
        ],
        [
            "My {relative} passed away {ago} after being ill for a long time.",
            "We lost my {relative} suddenly {ago}.",
            "It's been {months} since the funeral.",
        ],
        [
            "I still reach for my phone to call them.",
            "People stopped asking how I am after the first month.",
            "I feel guilty when I laugh at something.",
            "Their things are still in boxes in my hallway.",
            "I can't go into the room where they used to sit.",
        ],
        [
            "I went back to work after a week because I thought it would help.",
            "I tried a grief group once but I couldn't speak.",
            "I wrote them a letter but couldn't finish it.",
        ],
        [
            "There is no deadline on grief; the first year of dates is often the hardest.",
            "A grief group can feel easier the second or third time, once faces are familiar.",
            "Tell people the date of the anniversary, most of them want to help but forget.",
            "Keep one ritual for them, a walk they liked or a meal, on the hard days.",
        ],
    ),
    "social": Topic(
        "the social anxiety",
        [
            "I cancelled plans again because of anxiety",
            "Ordering food on the phone is impossible for me",
            "I think everyone at work hates me",
            "How do you stop replaying conversations?",
        ],
        [
            "I get so anxious before social plans that I cancel most of them.",
            "At work I rehearse every sentence before I say it in meetings.",
            "I skipped my friend's birthday party {ago} because I couldn't walk in.",
        ],
        [
            "After any conversation I replay it for hours.",
            "I'm sure people notice my hands shaking.",
            "I eat lunch in my car so I don't have to sit with colleagues.",
            "My {relative} says I'm just shy but it's more than that.",
            "I rehearse ordering coffee in my head.",
        ],
        [
            "I tried forcing myself to go to everything and had a meltdown.",
            "I read a self-help book but I couldn't do the exercises.",
            "I practise small talk with my {relative} but it doesn't transfer.",
        ],
        [
            "Build a ladder: list situations from easiest to hardest and start at the bottom.",
            "Arrive early to events, walking into a half-empty room is easier than a full one.",
            "Notice what actually happened after a conversation, not what you feared would.",
            "CBT for social anxiety is well studied; a GP can refer you or point you to self-help.",
        ],
    ),
}

SUBREDDITS: dict[str, tuple[list[str], float]] = {
    # name: (topics, share of crisis posts)
    "depression": (["job", "breakup", "family", "loneliness", "sleep", "grief"], 0.16),
    "Anxiety": (["panic", "exams", "sleep", "social", "job"], 0.04),
    "SuicideWatch": (["job", "breakup", "family", "loneliness", "grief"], 0.65),
    "mentalhealth": (["family", "exams", "sleep", "grief", "job", "panic"], 0.08),
    "lonely": (["loneliness", "breakup", "social"], 0.08),
    "socialanxiety": (["social", "exams", "loneliness"], 0.03),
}

SLOTS: dict[str, list[str]] = {
    "ago": [
        "two weeks ago",
        "last month",
        "three months ago",
        "in the spring",
        "on Monday",
        "a few days ago",
        "six weeks ago",
        "back in January",
        "over the summer",
    ],
    "years": ["two years", "five years", "eight years", "a decade", "three years", "18 months"],
    "months": ["three months", "half a year", "two months", "a few more weeks", "most of a year"],
    "days": ["three days", "a week", "ten days", "two weeks", "days"],
    "workplace": [
        "warehouse",
        "bank",
        "call centre",
        "hospital",
        "restaurant",
        "design studio",
        "school",
        "supermarket",
        "law firm",
        "start-up",
    ],
    "relative": [
        "mum",
        "dad",
        "older brother",
        "sister",
        "grandmother",
        "grandfather",
        "aunt",
        "stepdad",
        "mother",
        "father",
    ],
    "count": ["five", "ten", "twenty", "a dozen"],
    "ordinal": ["second", "third", "final", "first", "fourth"],
    "hour": ["2am", "3am", "4am", "1am", "half past two"],
    "age": ["24", "31", "19", "27", "36", "42", "22"],
}

OPENERS = [
    "",
    "",
    "",
    "Throwaway because people I know use this site. ",
    "Long post, sorry. ",
    "I don't really know where else to put this. ",
    "First time posting here. ",
    "Not sure if this is the right sub. ",
    "On mobile, sorry for formatting. ",
]
FEELINGS = [
    "I feel empty most of the time.",
    "I'm tired in a way sleep doesn't fix.",
    "Some days I can't see the point of getting up.",
    "I feel like I'm letting everyone down.",
    "I've been crying in the shower so nobody hears.",
    "My chest feels tight all day.",
    "I feel numb, like I'm watching my life from outside.",
    "I can't remember the last time I felt good.",
    "I'm scared this is just who I am now.",
    "I keep telling everyone I'm fine.",
    "Food doesn't taste of anything anymore.",
    "I feel like a ghost in my own house.",
]
QUESTIONS = [
    "Has anyone been through something like this?",
    "How do I get through the next few weeks?",
    "Does it get better?",
    "What actually helped you?",
    "Any advice would mean a lot.",
    "I don't even know what I'm asking, I just needed to say it somewhere.",
    "Is this normal or am I overreacting?",
    "How do you talk to people about this?",
    "Where do I even start?",
]
IDIOMS = [
    "This commute is killing me.",
    "I'm dying to get a proper night's sleep.",
    "I could kill for one quiet weekend.",
    "By Friday I'm dead tired.",
    "My boss's jokes bore me to death.",
    "My back is killing me from the desk chair.",
]
CRISIS: dict[str, list[str]] = {
    "direct": [
        "I've started thinking about killing myself and it scares me.",
        "I want to end my life and I've been looking up ways.",
        "Honestly I want to die and I have a plan.",
        "I'm suicidal again and it's worse tonight.",
        "I've been cutting myself again after two years clean.",
        "I keep thinking about how I'd take my own life.",
    ],
    "indirect": [
        "Everyone would be better off without me.",
        "I'm such a burden to everyone around me.",
        "I've been giving away my things.",
        "I don't see any reason to live anymore.",
        "Sometimes I wish I could go to sleep and never wake up.",
        "I don't want to be here anymore.",
        "I won't be around much longer anyway.",
    ],
    "ambiguous": [
        "I can't do this anymore.",
        "What's the point of anything.",
        "I want it all to stop.",
        "I'm done with everything.",
        "I can't go on like this.",
        "I'm so tired of existing.",
    ],
    "adversarial": [
        "thinking about how to unalive myself lol",
        "honestly kms, not even joking this time",
        "been reading about the sewer slide thing again",
        "i want to k1ll mys3lf",
        "asking for a friend, how many pills would it take to not wake up",
        "what's a lethal dose of the stuff in my cabinet, hypothetically",
    ],
}

# Reply fragments. {noun} refers to the post's topic; {advice} is topic-specific.
EMPATHY = [
    "I'm really sorry you're dealing with {noun}.",
    "That sounds exhausting, and it makes sense that you feel this way.",
    "Thank you for writing this out, that takes courage.",
    "What you're describing with {noun} sounds incredibly heavy.",
    "You're not weak for struggling with this, anyone would.",
    "It's completely understandable to feel lost after {noun}.",
    "I can hear how much you've been carrying on your own.",
    "Your feelings about {noun} are valid, even the messy ones.",
]
SPECIFIC = [
    "You said {detail_lower} That stood out to me, because it shows how hard you've been trying.",
    "The part where you said {detail_lower} I think that detail matters.",
    "It sounds like {noun} has touched almost every part of your days.",
    "Going through {noun} while also dealing with the rest of it is a lot at once.",
]
ACTION = [
    "One thing that helped me: {advice}",
    "Something small you could try this week: {advice}",
    "A practical idea, if you have the energy: {advice}",
    "{advice}",
    "Maybe start with this: {advice}",
]
SHARE = [
    "I went through something similar a couple of years ago and it did ease, slowly.",
    "I had a stretch like this too, and the thing that turned it around was telling someone.",
    "Same happened to me, and I remember how stuck it felt.",
]
ASK = [
    "Is there anyone you trust that you could talk to this week?",
    "How have you been sleeping and eating through all this?",
    "What's one thing that used to make your days a little lighter?",
    "Have you been able to see a doctor or counsellor about how you're feeling?",
    "Do you want to say more about what the hardest moments are like?",
]
RESOURCES = [
    "If you're thinking about ending your life, please reach out right now: in the US you can "
    "call or text 988, in the UK Samaritans are on 116 123, or call your local emergency number.",
    "Please talk to a crisis line tonight if those thoughts get stronger; you don't have to be "
    "sure it's an emergency to call.",
    "If you feel unsafe, please go to an emergency department or call emergency services. You "
    "deserve support right now, not later.",
]
LOW = [
    "everyone feels like that sometimes, you'll get over it.",
    "other people have it way worse.",
    "just go to the gym, it fixes everything.",
    "have you tried not thinking about it?",
    "just be more positive.",
    "sounds like you need to stop feeling sorry for yourself.",
    "this sub is so depressing.",
    "drink some water and go to bed.",
    "it's just life.",
    "get a hobby.",
    "you should just move on already.",
    "welcome to adulthood I guess.",
    "nobody cares about your problems, that's how it is.",
    "stop overthinking it.",
    "sounds like a you problem.",
    "you're making this a bigger deal than it is.",
    "touch grass.",
    "cry about it and move on.",
    "just don't care what people think.",
    "therapy is a scam anyway.",
]
LOW_PREFIX = [
    "",
    "",
    "Honestly ",
    "Tbh ",
    "Look, ",
    "Not trying to be rude but ",
    "Bro ",
    "Ok so ",
    "Idk, ",
    "Real talk: ",
]
LOW_TAIL = [
    "",
    "",
    "",
    "Just my opinion.",
    "It's not that deep.",
    "Worked for me.",
    "lol",
    "Sorry but it's true.",
    "People need to toughen up.",
    "Happens to everyone.",
    "Not sure why this is a post.",
    "Idk what else to say.",
]
LOW_ECHO = [
    "So {detail_lower_short} Happens to all of us.",
    "{detail_upper_short} So what?",
    "You said {detail_lower_short} Everyone deals with that.",
]
FILLER = [
    "Hang in there.",
    "Sending you strength.",
    "Take care of yourself.",
    "Good luck.",
    "You've got this.",
    "Rooting for you.",
    "",
]
OP_THANKS = [
    "Thank you, I didn't expect anyone to answer.",
    "This helps more than you know.",
    "I'll try that tomorrow, thanks.",
    "Thanks, I needed to hear that today.",
    "I appreciate you taking the time to write this.",
    "Thank you so much.",
    "Reading this made me tear up a bit, thank you.",
    "Thanks for being kind about it.",
]
OP_QUOTE = [
    "Especially '{quote}'. ",
    "The bit about '{quote}' really landed. ",
    "'{quote}' is going on a sticky note. ",
    "Needed the '{quote}' part. ",
]
FOLLOW_UPS = [
    "Agree with all of this.",
    "This is really good advice.",
    "Seconding this.",
    "This is exactly what I needed to read too.",
    "Came here to say this.",
    "Saving this comment.",
]
NON_ENGLISH = [
    "No sé qué hacer con mi vida, todos los días son iguales y estoy muy cansada de todo.",
    "Ich fühle mich seit Wochen so leer und weiß nicht, mit wem ich darüber reden kann.",
    "Je me sens seule depuis que j'ai déménagé et je ne sais pas comment me faire des amis.",
    "Não consigo dormir há dias e a ansiedade está cada vez pior no trabalho.",
    "Mi familia no entiende lo que me pasa y cada conversación termina en una pelea.",
    "Ik voel me de laatste tijd zo moe en verdrietig, zonder dat ik weet waarom.",
]
BOT_TEXT = {
    "AutoModerator": "Hi, thanks for posting. If you are in crisis please see the resources in "
    "our sidebar: https://www.reddit.com/r/{sub}/wiki/resources. *I am a bot, and this action "
    "was performed automatically.*",
    "RemindMeBot": "I will be messaging you in 7 days to remind you of this link. "
    "https://www.reddit.com/message/compose/?to=RemindMeBot",
}
FIRST_NAMES = [
    "Sarah",
    "Daniel",
    "Priya",
    "Marcus",
    "Elena",
    "Tomasz",
    "Aisha",
    "Jonah",
    "Mei",
    "Oliver",
    "Camila",
    "Ravi",
    "Hannah",
    "Kwame",
    "Lucia",
    "Stefan",
]
SURNAMES = ["Okafor", "Lindqvist", "Moreno", "Brennan", "Kowalski", "Haddad", "Nakamura"]
STREETS = ["Maple", "Church", "Willow", "Station", "Harbour", "Elm", "Victoria", "Cedar"]
STREET_TYPES = ["Street", "Avenue", "Road", "Lane", "Drive"]
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "protonmail.com", "hotmail.co.uk"]
WEB = ["myrecoveryblog.net", "throwawayjournal.org", "quietsteps.io", "sadbutokay.com"]
RELATION_CUES = ["my sister", "my best friend", "my roommate", "my boyfriend", "my therapist"]
USER_WORDS = [
    "quiet",
    "blue",
    "tired",
    "moth",
    "river",
    "paper",
    "lamp",
    "fox",
    "static",
    "hollow",
    "winter",
    "cloud",
    "sparrow",
    "velvet",
    "salt",
    "ember",
]


@dataclass
class SyntheticConfig:
    """Sizes and shares of the synthetic corpus (the ``data.synthetic`` config section)."""

    n_threads: int = 1500
    min_replies: int = 2
    max_replies: int = 10
    nested_rate: float = 0.3
    crisis_scale: float = 1.0
    idiom_share: float = 0.06
    pii_share: float = 0.12
    deleted_share: float = 0.04
    bot_share: float = 0.15
    duplicate_share: float = 0.01
    empty_share: float = 0.01
    non_english_share: float = 0.03
    malformed_share: float = 0.001
    subreddits: list[str] = field(default_factory=lambda: list(SUBREDDITS))

    @classmethod
    def from_config(cls, section: dict) -> SyntheticConfig:
        cfg = cls(**section)
        if cfg.min_replies > cfg.max_replies:
            raise ValueError("data.synthetic: min_replies must not exceed max_replies")
        return cfg


class _Ids:
    def __init__(self, start: int):
        self.n = start

    def next(self) -> str:
        self.n += 1
        n, digits = self.n, []
        while n:
            n, r = divmod(n, 36)
            digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[r])
        return "".join(reversed(digits))


class CorpusGenerator:
    """Writes ``submissions`` and ``comments`` NDJSON(.zst) files; see the module docstring.

    ``pii_log``, if given, receives ``(type, value)`` for every planted PII string, so tests can
    check that none of them reaches an output.
    """

    def __init__(self, cfg: SyntheticConfig, seed: int, pii_log: list | None = None):
        for name in cfg.subreddits:
            if name not in SUBREDDITS:
                raise ValueError(f"data.synthetic.subreddits: unknown subreddit {name!r}")
        self.cfg = cfg
        self.rng = random.Random(seed)
        self.ids = _Ids(36**5)
        self.pii_log = pii_log
        self.counts: dict[str, int] = {"submissions": 0, "comments": 0}
        self.slots: dict[str, str] = {}

    # -- small helpers ------------------------------------------------------------------
    def _fill(self, template: str) -> str:
        return template.format(**self.slots) if "{" in template else template

    def _author(self) -> str:
        rng = self.rng
        return f"{rng.choice(USER_WORDS)}_{rng.choice(USER_WORDS)}{rng.randint(1, 9999)}"

    def _pii(self) -> str:
        rng = self.rng
        first = rng.choice(FIRST_NAMES)
        kind = rng.choice(
            ["name", "user", "email", "phone", "url", "address", "relation", "handle"]
        )
        if kind == "name":
            value = f"{first} {rng.choice(SURNAMES)}" if rng.random() < 0.3 else first
            text = f"My name is {value}, by the way."
        elif kind == "relation":
            value = first
            text = f"Only {rng.choice(RELATION_CUES)} {value} knows about this."
        elif kind == "user":
            value = f"u/{self._author()}"
            text = f"A while ago {value} told me to post here."
        elif kind == "handle":
            value = f"@{rng.choice(USER_WORDS)}{rng.choice(USER_WORDS)}{rng.randint(1, 99)}"
            text = f"You can find me as {value} if you want to talk."
        elif kind == "email":
            value = f"{first.lower()}.{rng.choice(USER_WORDS)}{rng.randint(1, 99)}@" + rng.choice(
                DOMAINS
            )
            text = f"If anyone wants to talk you can email me at {value}."
        elif kind == "phone":
            a, b, c = rng.randint(201, 989), rng.randint(200, 999), rng.randint(1000, 9999)
            value = rng.choice(
                [f"({a}) {b}-{c}", f"{a}-{b}-{c}", f"+1 {a} {b} {c}", f"{a}.{b}.{c}"]
            )
            text = f"My number is {value} if anyone needs someone to text."
        elif kind == "url":
            value = rng.choice(
                [
                    f"https://{rng.choice(WEB)}/post/{rng.randint(10, 9999)}",
                    f"www.{rng.choice(WEB)}",
                ]
            )
            text = f"I wrote more about it here: {value}"
        else:
            value = f"{rng.randint(2, 990)} {rng.choice(STREETS)} {rng.choice(STREET_TYPES)}"
            text = f"I live alone at {value} and nobody visits."
        if self.pii_log is not None:
            self.pii_log.append((kind, value))
        return text

    # -- posts and replies --------------------------------------------------------------
    def _post(self, sub: str) -> tuple[dict, Topic, str, str]:
        rng, cfg = self.rng, self.cfg
        topics, crisis_share = SUBREDDITS[sub]
        topic = TOPICS[rng.choice(topics)]
        self.slots = {key: rng.choice(options) for key, options in SLOTS.items()}
        crisis = "none"
        if rng.random() < min(1.0, crisis_share * cfg.crisis_scale):
            crisis = rng.choices(list(CRISIS), weights=[3, 3, 2, 1])[0]
        details = rng.sample(topic.details, k=rng.randint(1, 3))
        parts = [rng.choice(OPENERS) + self._fill(rng.choice(topic.situations))]
        details = [self._fill(d) for d in details]
        parts += details
        parts += rng.sample(FEELINGS, k=rng.randint(1, 2))
        if rng.random() < 0.7:
            parts.append(self._fill(rng.choice(topic.tried)))
        if crisis != "none":
            parts.insert(rng.randint(2, len(parts)), rng.choice(CRISIS[crisis]))
        elif rng.random() < cfg.idiom_share:
            parts.insert(rng.randint(1, len(parts)), rng.choice(IDIOMS))
        if rng.random() < cfg.pii_share:
            parts.insert(rng.randint(1, len(parts)), self._pii())
        parts.append(rng.choice(QUESTIONS))
        body = " ".join(parts)
        if rng.random() < 0.2:
            body = body.replace(". ", ".\n\n", rng.randint(1, 2))
        title = self._fill(rng.choice(topic.titles))
        return {"title": title, "selftext": body}, topic, details[0], crisis

    def _reply(self, topic: Topic, detail: str, crisis: str) -> tuple[str, float]:
        """A direct reply and its latent quality (higher = more empathic, specific, useful)."""
        rng = self.rng
        detail_lower = detail[0].lower() + detail[1:]
        if rng.random() < 0.3:
            core = rng.choice(LOW)
            parts = [rng.choice(LOW_PREFIX) + (core if rng.random() < 0.5 else core.capitalize())]
            quality = -1.0 + rng.random() * 0.5
            if rng.random() < 0.5:
                parts.insert(
                    0,
                    rng.choice(LOW_ECHO).format(
                        detail_lower_short=detail_lower, detail_upper_short=detail
                    ),
                )
            parts.append(rng.choice(LOW_TAIL))
            if rng.random() < 0.3:
                parts.append(rng.choice(LOW).capitalize())
                quality -= 0.3
            return " ".join(p for p in parts if p), quality
        quality = 0.0
        parts = []
        extra = {"noun": topic.noun, "detail_lower": detail_lower}
        if rng.random() < 0.75:
            parts.append(rng.choice(EMPATHY).format(**extra))
            quality += 0.8
        if rng.random() < 0.45:
            parts.append(rng.choice(SPECIFIC).format(**extra))
            quality += 0.6
        if rng.random() < 0.3:
            parts.append(rng.choice(SHARE))
            quality += 0.2
        if rng.random() < 0.6:
            advice = rng.sample(topic.advice, k=rng.randint(1, 2))
            parts.append(rng.choice(ACTION).format(advice=" ".join(advice)))
            quality += 0.7 + 0.2 * (len(advice) - 1)
        if rng.random() < 0.45:
            parts.append(rng.choice(ASK))
            quality += 0.3
        if crisis != "none":
            if rng.random() < 0.6:
                parts.append(rng.choice(RESOURCES))
                quality += 1.0
            else:
                quality -= 0.4
        if len(parts) < 3:
            parts.insert(1, rng.choice(SPECIFIC).format(**extra))
            quality += 0.6
        parts.append(rng.choice(FILLER))
        if rng.random() < self.cfg.idiom_share:
            parts.insert(0, rng.choice(IDIOMS))
        if rng.random() < self.cfg.pii_share / 3:
            parts.insert(rng.randint(0, len(parts)), self._pii())
        return " ".join(p for p in parts if p), quality

    def _score(self, quality: float, popularity: float, rank: int) -> int:
        """Vote score: grows with quality and thread popularity, decays with reply order."""
        rng = self.rng
        mean = popularity * 2.718 ** (0.9 * quality) / (1 + 0.15 * rank)
        score = int(round(mean * rng.lognormvariate(0, 0.35)))
        if quality < 0 and rng.random() < 0.4:
            score -= rng.randint(1, 6)
        return score + 1

    # -- writing ------------------------------------------------------------------------
    def write(self, submissions_path: str | Path, comments_path: str | Path) -> dict[str, int]:
        """Write the corpus; returns counts of submissions and comments lines written."""
        with _open_writer(submissions_path) as subs, _open_writer(comments_path) as coms:
            for index in range(self.cfg.n_threads):
                self._thread(index, subs, coms)
        return dict(self.counts)

    def _emit(self, handle, kind: str, record: dict) -> None:
        rng, cfg = self.rng, self.cfg
        line = orjson.dumps(record)
        if rng.random() < cfg.malformed_share:
            choice = rng.randint(0, 2)
            if choice == 0:
                line = line[: len(line) // 2]  # truncated line
            elif choice == 1:
                line = orjson.dumps({**record, "score": "n/a"})
            else:
                line = orjson.dumps({k: v for k, v in record.items() if k != "created_utc"})
        handle.write(line + b"\n")
        self.counts[kind] += 1
        if rng.random() < cfg.duplicate_share:
            handle.write(line + b"\n")
            self.counts[kind] += 1

    def _thread(self, index: int, subs, coms) -> None:
        rng, cfg = self.rng, self.cfg
        sub = cfg.subreddits[index % len(cfg.subreddits)]
        created = BASE_UTC + index * 1800 + rng.randint(0, 1700)
        tid = self.ids.next()
        post, topic, detail, crisis = self._post(sub)
        author = self._author()
        roll = rng.random()
        if roll < cfg.non_english_share:
            post["selftext"] = rng.choice(NON_ENGLISH) + " " + rng.choice(NON_ENGLISH)
            post["title"] = rng.choice(NON_ENGLISH).split(",")[0]
        elif roll < cfg.non_english_share + cfg.deleted_share:
            post["selftext"] = rng.choice(["[removed]", "[deleted]"])
            author = "[deleted]" if post["selftext"] == "[deleted]" else author
        elif roll < cfg.non_english_share + cfg.deleted_share + cfg.empty_share:
            post["title"], post["selftext"] = " ", ""
        popularity = rng.lognormvariate(1.2, 0.6)
        n_replies = rng.randint(cfg.min_replies, cfg.max_replies)
        record = {
            "id": tid,
            "subreddit": sub,
            "title": post["title"],
            "selftext": post["selftext"],
            "author": author,
            "created_utc": created,
            "score": max(0, int(popularity * 3 + rng.randint(-2, 8))),
            "num_comments": n_replies,
            "over_18": False,
        }
        self._emit(subs, "submissions", record)
        link = f"t3_{tid}"

        def comment(body: str, parent: str, score: int, who: str, delay: int) -> str:
            cid = self.ids.next()
            self._emit(
                coms,
                "comments",
                {
                    "id": cid,
                    "link_id": link,
                    "parent_id": parent,
                    "body": body,
                    "author": who,
                    "score": score,
                    "created_utc": created + delay,
                    "subreddit": sub,
                },
            )
            return cid

        if rng.random() < cfg.bot_share:
            bot = rng.choice(list(BOT_TEXT))
            comment(BOT_TEXT[bot].format(sub=sub), link, 1, bot, 5)
        last_body = None
        for rank in range(n_replies):
            body, quality = self._reply(topic, detail, crisis)
            score = self._score(quality, popularity, rank)
            who = self._author()
            roll = rng.random()
            if roll < cfg.deleted_share:
                body, who = rng.choice([("[deleted]", "[deleted]"), ("[removed]", who)])
            elif roll < cfg.deleted_share + cfg.empty_share:
                body = rng.choice(["", "   ", "\n"])
            elif roll < cfg.deleted_share + cfg.empty_share + cfg.non_english_share:
                body = rng.choice(NON_ENGLISH)
            elif last_body and roll < cfg.deleted_share + cfg.empty_share + 0.02:
                body = last_body  # copy-paste repost of another reply
            last_body = body
            cid = comment(body, link, score, who, 60 * (rank + 1) + rng.randint(0, 600))
            if len(body) > 40 and rng.random() < cfg.nested_rate:
                words = body.split()
                start = rng.randint(0, max(0, len(words) - 6))
                quote = " ".join(words[start : start + rng.randint(4, 7)]).strip(".,!?")
                quoted = rng.choice(OP_QUOTE).format(quote=quote)
                if rng.random() < 0.6:
                    reply, who2 = f"{rng.choice(OP_THANKS)} {quoted}".strip(), author
                else:
                    reply, who2 = f"{quoted}{rng.choice(FOLLOW_UPS)}", self._author()
                comment(reply, f"t1_{cid}", max(1, score // 4), who2, 3600 * (rank + 1))


class _open_writer:
    """Context manager: a binary writer, zstd-compressed when the path ends in ``.zst``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.raw = self.path.open("wb")
        if self.path.suffix == ".zst":
            self.stream = zstandard.ZstdCompressor(level=3).stream_writer(self.raw)
        else:
            self.stream = self.raw
        return self.stream

    def __exit__(self, *exc):
        self.stream.close()
        if not self.raw.closed:
            self.raw.close()


def generate_corpus(
    submissions_path: str | Path,
    comments_path: str | Path,
    section: dict,
    seed: int,
    pii_log: list | None = None,
) -> dict[str, int]:
    """Write a synthetic corpus from a ``data.synthetic`` config section; returns line counts."""
    generator = CorpusGenerator(SyntheticConfig.from_config(section), seed, pii_log)
    return generator.write(submissions_path, comments_path)
