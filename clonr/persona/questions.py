"""The icebreaker bank: questions that draw out how a person thinks and talks, written for Clonr.

Categories cover a life (formative events, relationships, values, work, humour, opinions, tastes, daily
life, fears, dreams, beliefs, quirks); openers are messages a fan might send, in different registers, so
the clone learns how its person answers slang, formality, a venting friend or a provocation.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CATEGORIES", "QUESTIONS", "Question", "question"]


@dataclass(frozen=True)
class Question:
    id: str
    category: str
    text: str


_BANK: dict[str, tuple[str, ...]] = {
    "formative": (
        "What is the earliest memory you are sure is really yours?",
        "Which moment in your childhood shaped you more than you admit?",
        "Who taught you the most when you were young, and what did they teach you?",
        "What was your first real failure, and what did you do next?",
        "Which place from your past do you still dream about?",
        "What did your family argue about at the dinner table?",
        "When did you first feel like an adult?",
        "What is a decision you made at twenty that still shapes your life?",
        "Which book, film or song changed how you saw the world as a teenager?",
        "What is a hard year you came through, and what got you through it?",
        "What did you want to be when you grew up, and what happened to that dream?",
    ),
    "relationships": (
        "Who do you call first when something good happens?",
        "What do your closest friends tease you about?",
        "How do you show someone you care about them?",
        "What makes you trust a new person?",
        "Tell me about a friendship that ended. What did you learn?",
        "What is something you wish you had said to someone, and never did?",
        "How would your siblings or oldest friends describe you in three words?",
        "What do you need from the people around you when you are down?",
        "Who is someone you admire that most people have never heard of?",
        "How do you handle an argument with someone you love?",
        "What is the kindest thing a stranger ever did for you?",
    ),
    "values": (
        "What is a rule you live by that you would never break?",
        "What do you think people get wrong about success?",
        "When is it right to break a promise?",
        "What would you stand up for even if it cost you?",
        "Which of your values has changed the most over the years?",
        "What does a good life look like to you?",
        "What is something you refuse to do for money?",
        "Do you care more about being right or being kind? Why?",
        "What do you owe the place where you grew up?",
        "What kind of person do you try hard not to become?",
    ),
    "work": (
        "How would you explain what you do to a curious ten-year-old?",
        "What part of your work makes you lose track of time?",
        "What is the best piece of advice you ever got about your craft?",
        "What is a mistake you see beginners in your field make again and again?",
        "Tell me about a project you are proud of, and why.",
        "What does a good working day look like for you?",
        "Who in your field do you learn the most from?",
        "What is something about your work that people would be surprised by?",
        "How do you deal with criticism of your work?",
        "What would you do for work if money did not matter?",
        "What is the most boring part of your job, and how do you get through it?",
    ),
    "humour": (
        "What always makes you laugh, even when you are in a bad mood?",
        "What is the funniest thing that happened to you this year?",
        "Tell me a joke you actually like.",
        "What is your most embarrassing story that you can laugh about now?",
        "What kind of humour do you not get at all?",
        "Who is the funniest person you know, and why?",
        "What do you find ridiculous that other people take seriously?",
        "How do you react when a joke falls flat?",
        "What is a running joke among your friends?",
        "What is the silliest thing you believed as a kid?",
    ),
    "opinions": (
        "What is an opinion you hold that most of your friends disagree with?",
        "What is overrated, and what is underrated?",
        "What trend do you hope disappears soon?",
        "What is a topic where you changed your mind completely?",
        "What do you think the world will look like in twenty years?",
        "What is a hill you are willing to die on, however small?",
        "What advice do you think is bad, even though everyone gives it?",
        "What is the most important problem nobody talks about enough?",
        "What do you think about social media, honestly?",
        "Which popular thing do you secretly not enjoy?",
    ),
    "tastes": (
        "What is your comfort food, and who made it for you first?",
        "What music do you play when you need energy?",
        "Which book would you give to a friend who is struggling?",
        "What is the best place you have ever travelled to, and why?",
        "What film can you watch again and again?",
        "Coffee or tea, and how exactly?",
        "What is something small that you spend too much money on?",
        "What is your favourite season and what do you do in it?",
        "What is a smell that takes you straight back somewhere?",
        "Which artist, writer or creator do you wish more people knew?",
        "What would your perfect meal be, from start to finish?",
    ),
    "daily_life": (
        "Walk me through your mornings.",
        "What does your ideal lazy Sunday look like?",
        "What is a habit you are trying to build right now?",
        "What do you do in the last hour before you sleep?",
        "What is always in your bag or your pockets?",
        "How do you recharge after a long week?",
        "What chore do you secretly enjoy?",
        "What does your desk or workspace look like right now?",
        "How do you usually spend time with friends?",
        "What small ritual makes your day better?",
    ),
    "fears": (
        "What scares you more than it should?",
        "What are you most afraid of losing?",
        "When did you last feel truly nervous, and why?",
        "What worry keeps you awake at night?",
        "What is a fear you have overcome?",
        "What do you avoid because it makes you uncomfortable?",
        "What is the risk you are glad you took despite being afraid?",
        "How do you calm yourself down when you panic?",
        "What do you fear people think of you?",
        "Which failure would hurt you the most?",
    ),
    "dreams": (
        "What do you still want to do before you die?",
        "Where do you see yourself in ten years, honestly?",
        "What is a dream you gave up on, and do you regret it?",
        "If you could learn one thing overnight, what would it be?",
        "What would you like people to remember you for?",
        "What is a place you still want to see?",
        "What would you build if you had unlimited time and money?",
        "What are you working towards right now?",
        "What would make this year a great year for you?",
        "If you could live one year of your life again, which and why?",
    ),
    "beliefs": (
        "What do you believe that you cannot prove?",
        "What gives your life meaning?",
        "Do you believe people can really change?",
        "What do you think happens when we die?",
        "How do you make big decisions?",
        "What is luck, in your view, and how much of your life is it?",
        "What do you think makes a person good?",
        "What is a question you keep coming back to?",
        "What tradition do you keep, and why?",
        "What is something you are grateful for that you rarely mention?",
    ),
    "quirks": (
        "What is a weird habit of yours?",
        "What word or phrase do you say all the time?",
        "What is something you are unreasonably good at?",
        "What do you collect, or used to collect?",
        "What is your most unpopular food combination?",
        "What small thing annoys you more than it should?",
        "What is the strangest job you have ever had?",
        "How do you type: full sentences, all lowercase, lots of emoji?",
        "What is something you can talk about for hours?",
        "What would surprise people who only know you from your public work?",
    ),
    "openers": (
        "yo whats good, u been up to anything fun lately?? 😄",
        "Good evening. I would be grateful if you could tell me a little about your background.",
        "Hey! I've been following your work for years — how did you get started?",
        "wanna hop on a game tonight? need one more for the squad",
        "Honestly today was awful. My boss yelled at me and I just want to scream.",
        "Teach me something in two minutes that I'll remember for a year.",
        "Be honest: is it ever okay to lie to protect someone's feelings?",
        "ngl your last post kinda changed my mind about stuff",
        "What's one thing you'd tell someone who wants to do what you do?",
        "I'm nervous about an exam tomorrow. Any advice?",
        "Hot take: pineapple on pizza is fine. Fight me.",
        "Do you ever get tired of people asking you the same questions?",
        "What are you doing right now, this very minute?",
        "Can you recommend me something to read, watch or listen to this weekend?",
    ),
}

CATEGORIES: tuple[str, ...] = tuple(_BANK)
QUESTIONS: tuple[Question, ...] = tuple(
    Question(f"{category}-{n:02d}", category, text) for category, texts in _BANK.items()
    for n, text in enumerate(texts, start=1))
_BY_ID = {q.id: q for q in QUESTIONS}


def question(question_id: str) -> Question | None:
    return _BY_ID.get(question_id)
